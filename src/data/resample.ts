/**
 * PIL's BICUBIC resize (`Image.resize(size, Image.BICUBIC)`), bit for bit: the a = −0.5 cubic with
 * support 2 widened by the reduction factor, coefficients normalised per output pixel and rounded to
 * 22-bit fixed point, a horizontal pass to 8 bits, then a vertical pass. The loader uses it by default
 * (`resampler: 'pil'`: exact parity with the reference). Only the requested region of the output is
 * computed, from only the source rows it reads. The passes run in WebAssembly SIMD (pixels.wat); on a
 * 416² JPEG, decode included, enlarging to a visible 416² costs 0.45× the CPU of libvips' resize
 * through sharp, and reducing to 0.7 about the same.
 */

import { dataArea, pixelKernels } from './pixels.js';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/**
 * Per output pixel in [from, to): the first input index and K fixed-point weights (PIL's
 * precompute_coeffs). K is the most taps any output pixel uses; pixels with fewer taps get zero
 * weights, and `first` is moved left where needed so that all K reads stay inside the input (a zero
 * weight adds exactly nothing, so the sums are PIL's).
 */
function coefficients(inSize: number, outSize: number, from: number, to: number): { first: Int32Array; weights: Int32Array; k: number } {
  const { xmins, taps, k, first, scale, filterScale } = windows(inSize, outSize, from, to);
  const n = to - from;
  const weights = new Int32Array(n * k);
  const raw = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const center = (from + i + 0.5) * scale;
    let sum = 0;
    for (let x = 0; x < taps[i]; x++) {
      raw[x] = cubic((x + xmins[i] - center + 0.5) / filterScale);
      sum += raw[x];
    }
    const base = i * k + (xmins[i] - first[i]);
    for (let x = 0; x < taps[i]; x++) {
      const w = sum !== 0 ? raw[x] / sum : raw[x];
      weights[base + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
  }
  return { first, weights, k };
}

/**
 * The tap windows of PIL's precompute_coeffs without the weights: per output pixel in [from, to) the
 * first input index and tap count, K (the most taps), and `first` moved left where needed so that K
 * reads stay inside the input.
 */
function windows(inSize: number, outSize: number, from: number, to: number) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const n = to - from;
  const xmins = new Int32Array(n);
  const taps = new Int32Array(n);
  let k = 1;
  for (let i = 0; i < n; i++) {
    const center = (from + i + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmins[i] = xmin;
    taps[i] = xmax - xmin;
    if (taps[i] > k) k = taps[i];
  }
  const first = xmins.map((xmin) => Math.min(xmin, inSize - k));
  return { xmins, taps, k, first, scale, filterScale };
}

/** The input rows [y0, y1) that windows starting at `first` with `k` taps read. */
function span(first: Int32Array, k: number): [number, number] {
  let y1 = 0;
  for (let i = 0; i < first.length; i++) y1 = Math.max(y1, first[i] + k);
  return [first[0], y1];
}

/** Horizontal pass: `rows` source rows (from `y0`) of width `sw` → `width` columns, 8-bit (a clamped view clips like PIL's clip8). */
function horizontalPass(src: Uint8Array, sw: number, y0: number, rows: number, width: number, c: { first: Int32Array; weights: Int32Array; k: number }): Uint8Array {
  const mid = new Uint8Array(rows * width * 3);
  const out = new Uint8ClampedArray(mid.buffer);
  const { first, weights: wt, k } = c;
  for (let y = 0; y < rows; y++) {
    const srcRow = (y + y0) * sw * 3;
    let o = y * width * 3;
    if (k === 4) {
      for (let x = 0; x < width; x++, o += 3) {
        const p = srcRow + first[x] * 3;
        const kb = x * 4;
        const w0 = wt[kb];
        const w1 = wt[kb + 1];
        const w2 = wt[kb + 2];
        const w3 = wt[kb + 3];
        out[o] = (HALF + src[p] * w0 + src[p + 3] * w1 + src[p + 6] * w2 + src[p + 9] * w3) >> PRECISION_BITS;
        out[o + 1] = (HALF + src[p + 1] * w0 + src[p + 4] * w1 + src[p + 7] * w2 + src[p + 10] * w3) >> PRECISION_BITS;
        out[o + 2] = (HALF + src[p + 2] * w0 + src[p + 5] * w1 + src[p + 8] * w2 + src[p + 11] * w3) >> PRECISION_BITS;
      }
    } else {
      for (let x = 0; x < width; x++, o += 3) {
        let p = srcRow + first[x] * 3;
        const kb = x * k;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let t = 0; t < k; t++, p += 3) {
          const w = wt[kb + t];
          r += src[p] * w;
          g += src[p + 1] * w;
          b += src[p + 2] * w;
        }
        out[o] = r >> PRECISION_BITS;
        out[o + 1] = g >> PRECISION_BITS;
        out[o + 2] = b >> PRECISION_BITS;
      }
    }
  }
  return mid;
}

/** Vertical pass over `mid` (rows of `stride` bytes, the first being source row `y0`) → `height` rows. */
function verticalPass(mid: Uint8Array, stride: number, y0: number, height: number, c: { first: Int32Array; weights: Int32Array; k: number }): Uint8Array {
  const result = new Uint8Array(height * stride);
  const out = new Uint8ClampedArray(result.buffer);
  const { first, weights: wt, k } = c;
  for (let y = 0; y < height; y++) {
    const base = (first[y] - y0) * stride;
    const outRow = y * stride;
    const kb = y * k;
    if (k === 4) {
      const w0 = wt[kb];
      const w1 = wt[kb + 1];
      const w2 = wt[kb + 2];
      const w3 = wt[kb + 3];
      const r1 = base + stride;
      const r2 = r1 + stride;
      const r3 = r2 + stride;
      for (let i = 0; i < stride; i++) {
        out[outRow + i] = (HALF + mid[base + i] * w0 + mid[r1 + i] * w1 + mid[r2 + i] * w2 + mid[r3 + i] * w3) >> PRECISION_BITS;
      }
    } else {
      for (let i = 0; i < stride; i++) {
        let v = HALF;
        let p = base + i;
        for (let t = 0; t < k; t++, p += stride) v += mid[p] * wt[kb + t];
        out[outRow + i] = v >> PRECISION_BITS;
      }
    }
  }
  return result;
}

/** What a resize needs: the coefficients of both passes and the source rows the vertical pass reads. */
function plan(sw: number, sh: number, nw: number, nh: number, region: [number, number, number, number]) {
  const [left, top, width, height] = region;
  if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > nw || top + height > nh) {
    throw new Error(`resizeBicubic: region [${region}] is not inside the ${nw}x${nh} output`);
  }
  const horizontal = coefficients(sw, nw, left, left + width);
  const vertical = coefficients(sh, nh, top, top + height);
  const [y0, y1] = span(vertical.first, vertical.k);
  return { width, height, horizontal, vertical, y0, y1 };
}

/**
 * The source rows `[y0, y1)` that the output rows `[top, top + height)` of a resize from height `sh` to
 * `nh` read: decoding only those is enough.
 *
 * @example
 * const [y0, y1] = sourceRows(416, 291, 200, 91);
 */
export function sourceRows(sh: number, nh: number, top: number, height: number): [number, number] {
  const { first, k } = windows(sh, nh, top, top + height);
  return span(first, k);
}

/**
 * {@link resizeBicubic} in plain JavaScript: the readable statement of the arithmetic, which the
 * WebAssembly kernels (pixels.wat) reproduce byte for byte; tests compare the two.
 *
 * @example
 * const out = resizeBicubicScalar(img.data, 300, 200, 600, 400); // 600·400·3 bytes
 */
export function resizeBicubicScalar(src: Uint8Array, sw: number, sh: number, nw: number, nh: number, region: [number, number, number, number] = [0, 0, nw, nh]): Uint8Array {
  const { width, height, horizontal, vertical, y0, y1 } = plan(sw, sh, nw, nh, region);
  // horizontal pass to 8 bits like PIL's intermediate image, then the vertical pass
  const mid = horizontalPass(src, sw, y0, y1 - y0, width, horizontal);
  return verticalPass(mid, width * 3, y0, height, vertical);
}

/**
 * Writes weight `wt` split exactly as wt = hi·2^11 + lo (lo in 0…2047, both fit 16 bits) into the pair
 * vectors of pixels.wat's resize: hi at lanes `at`, `at` + 2, … (`lanes` of them), lo 8 lanes further.
 */
function putSplit(dst: Int16Array, at: number, wt: number, lanes: number): void {
  for (let l = 0; l < 2 * lanes; l += 2) {
    dst[at + l] = wt >> 11;
    dst[at + 8 + l] = wt & 2047;
  }
}

const SLACK = 32;
const align = (n: number) => (n + SLACK + 15) & ~15;

/**
 * Resizes RGB `src` (sw × sh) to (nw × nh) with PIL's bicubic and returns the region
 * `[left, top, width, height]` of the result. Runs in the WebAssembly SIMD kernels of pixels.wat.
 *
 * @example
 * const out = resizeBicubic(img.data, 300, 200, 600, 400, [0, 0, 600, 400]); // 600·400·3 bytes
 * @param srcTop `src` holds the rows from `srcTop` on (at least those {@link sourceRows} names), not the whole image
 * @param flip resize the mirrored source (the same sums, read right to left with reversed weights: exact)
 */
export function resizeBicubic(
  src: Uint8Array,
  sw: number,
  sh: number,
  nw: number,
  nh: number,
  region: [number, number, number, number] = [0, 0, nw, nh],
  srcTop = 0,
  flip = false,
): Uint8Array {
  let out: Uint8Array | undefined;
  resizeBicubicWith(src, sw, sh, nw, nh, region, srcTop, flip, (view) => {
    out = view.slice();
  });
  return out!;
}

/**
 * {@link resizeBicubic} without the copy: `use` gets the result as a view of the pixel kernels' memory
 * and its byte offset there, valid only during the call (the next kernel call reuses the memory). The
 * pipeline jitters and pastes a resized part from there.
 *
 * @example
 * resizeBicubicWith(src, 416, 416, 291, 291, [0, 0, 291, 291], 0, false, (view) => canvas.set(view));
 */
export function resizeBicubicWith(
  src: Uint8Array,
  sw: number,
  sh: number,
  nw: number,
  nh: number,
  region: [number, number, number, number],
  srcTop: number,
  flip: boolean,
  use: (view: Uint8Array, at: number) => void,
): void {
  const { width, height, horizontal, vertical, y0, y1 } = plan(sw, sh, nw, nh, region);
  const have = src.length / (sw * 3);
  if (!Number.isInteger(have) || srcTop > y0 || srcTop + have < y1) {
    throw new Error(`resizeBicubic: ${src.length} bytes from row ${srcTop} are not the rows ${y0}…${y1 - 1} of a ${sw}x${sh} RGB image`);
  }
  const rows = y1 - y0;
  const rowBytes = width * 3;
  const kh = horizontal.k;
  const pairs = (kh + 1) >> 1;
  // data area: source rows y0…y1, intermediate, output, then the coefficient tables
  const srcAt = 0;
  const midAt = srcAt + align(rows * sw * 3);
  const dstAt = midAt + align((rows + 1) * rowBytes);
  const firstHAt = dstAt + align(height * rowBytes);
  const weightsHAt = firstHAt + align(width * 4);
  const firstVAt = weightsHAt + align(width * pairs * 32);
  const weightsVAt = firstVAt + align(height * 4);
  const pairsV = (vertical.k + 1) >> 1;
  const total = weightsVAt + align(height * pairsV * 32);
  const base = dataArea(total);
  const k = pixelKernels();
  const buffer = k.memory.buffer;
  new Uint8Array(buffer, base + srcAt, rows * sw * 3).set(src.subarray((y0 - srcTop) * sw * 3, (y1 - srcTop) * sw * 3));
  const firstH = new Int32Array(buffer, base + firstHAt, width);
  // per output pixel and pair of taps: (hi_t, hi_t+1) ×3 then (lo_t, lo_t+1) ×3 as i16 (see putSplit)
  const weightsH = new Int16Array(buffer, base + weightsHAt, width * pairs * 16).fill(0);
  for (let x = 0; x < width; x++) {
    // mirrored: flipped pixels first…first+k−1 are the source's sw−1−first … sw−k−first
    firstH[x] = (flip ? sw - kh - horizontal.first[x] : horizontal.first[x]) * 3;
    for (let t = 0; t < kh; t++) putSplit(weightsH, (x * pairs + (t >> 1)) * 16 + (t & 1), horizontal.weights[x * kh + (flip ? kh - 1 - t : t)], 3);
  }
  const firstV = new Int32Array(buffer, base + firstVAt, height);
  for (let y = 0; y < height; y++) firstV[y] = (vertical.first[y] - y0) * rowBytes;
  const weightsV = new Int16Array(buffer, base + weightsVAt, height * pairsV * 16).fill(0);
  for (let y = 0; y < height; y++) {
    for (let t = 0; t < vertical.k; t++) putSplit(weightsV, (y * pairsV + (t >> 1)) * 16 + (t & 1), vertical.weights[y * vertical.k + t], 4);
  }
  k.resizeH(base + srcAt, sw * 3, rows, base + midAt, width, base + firstHAt, base + weightsHAt, pairs);
  k.resizeV(base + midAt, rowBytes, base + dstAt, height, rowBytes, base + firstVAt, base + weightsVAt, pairsV);
  use(new Uint8Array(buffer, base + dstAt, height * rowBytes), base + dstAt);
}
