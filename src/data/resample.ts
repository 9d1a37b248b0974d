/**
 * PIL's BICUBIC resize (`Image.resize(size, Image.BICUBIC)`), bit for bit: the a = −0.5 cubic with
 * support 2 widened by the reduction factor, coefficients normalised per output pixel and rounded to
 * 22-bit fixed point, a horizontal pass to 8 bits, then a vertical pass. The loader uses it with
 * `resampler: 'pil'` (exact parity with the reference); only the requested region of the output is
 * computed. Enlarging a 416² JPEG to a visible 416² region costs about as much CPU as libvips' resize
 * (decode included); reducing costs several times as much as libvips' reduce.
 */

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
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const n = to - from;
  const xmins = new Int32Array(n);
  const taps = new Int32Array(n);
  const raw = new Float64Array(n * (Math.ceil(support) * 2 + 1));
  const stride = raw.length / n;
  let k = 1;
  for (let i = 0; i < n; i++) {
    const center = (from + i + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = cubic((x + xmin - center + 0.5) / filterScale);
      raw[i * stride + x] = w;
      sum += w;
    }
    if (sum !== 0) for (let x = 0; x < xmax; x++) raw[i * stride + x] /= sum;
    xmins[i] = xmin;
    taps[i] = xmax;
    if (xmax > k) k = xmax;
  }
  const first = new Int32Array(n);
  const weights = new Int32Array(n * k);
  for (let i = 0; i < n; i++) {
    const f = Math.min(xmins[i], inSize - k);
    first[i] = f;
    const base = i * k + (xmins[i] - f);
    for (let x = 0; x < taps[i]; x++) {
      const w = raw[i * stride + x];
      weights[base + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
  }
  return { first, weights, k };
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

/**
 * Resizes RGB `src` (sw × sh) to (nw × nh) with PIL's bicubic and returns the region
 * `[left, top, width, height]` of the result.
 *
 * @example
 * const out = resizeBicubic(img.data, 300, 200, 600, 400, [0, 0, 600, 400]); // 600·400·3 bytes
 */
export function resizeBicubic(src: Uint8Array, sw: number, sh: number, nw: number, nh: number, region: [number, number, number, number] = [0, 0, nw, nh]): Uint8Array {
  const [left, top, width, height] = region;
  if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > nw || top + height > nh) {
    throw new Error(`resizeBicubic: region [${region}] is not inside the ${nw}x${nh} output`);
  }
  const horizontal = coefficients(sw, nw, left, left + width);
  const vertical = coefficients(sh, nh, top, top + height);
  // source rows the vertical pass reads
  const y0 = vertical.first[0];
  let y1 = 0;
  for (let i = 0; i < height; i++) y1 = Math.max(y1, vertical.first[i] + vertical.k);
  // horizontal pass to 8 bits like PIL's intermediate image, then the vertical pass
  const mid = horizontalPass(src, sw, y0, y1 - y0, width, horizontal);
  return verticalPass(mid, width * 3, y0, height, vertical);
}
