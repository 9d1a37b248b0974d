/**
 * PIL's BICUBIC resize (`Image.resize(size, Image.BICUBIC)`), bit for bit: the a = −0.5 cubic with
 * support 2 widened by the reduction factor, coefficients normalised per output pixel and rounded to
 * 22-bit fixed point, a horizontal pass to 8 bits, then a vertical pass. Used for enlargements, where
 * it is both faster than libvips' interpolator and exactly the reference's arithmetic; only the
 * requested region of the output is computed.
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

/** Per output pixel in [from, to): first input index, tap count, and fixed-point weights (PIL's precompute_coeffs). */
function coefficients(inSize: number, outSize: number, from: number, to: number): { first: Int32Array; taps: Int32Array; weights: Int32Array; ksize: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const n = to - from;
  const first = new Int32Array(n);
  const taps = new Int32Array(n);
  const weights = new Int32Array(n * ksize);
  const k = new Float64Array(ksize);
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
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[i * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = xmin;
    taps[i] = xmax;
  }
  return { first, taps, weights, ksize };
}

// int32 accumulators (as PIL's): |Σ 255·w| < 2^31 for these kernels
function clip8(v: number): number {
  if (v >= ONE << 8) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
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
  for (let i = 0; i < height; i++) y1 = Math.max(y1, vertical.first[i] + vertical.taps[i]);
  // horizontal pass: rows y0…y1 of the source → width columns, 8-bit like PIL's intermediate image
  const rows = y1 - y0;
  const mid = new Uint8Array(rows * width * 3);
  const hk = horizontal.ksize;
  const hw = horizontal.weights;
  for (let y = 0; y < rows; y++) {
    const srcRow = (y + y0) * sw * 3;
    const outRow = y * width * 3;
    for (let x = 0; x < width; x++) {
      const xmin = horizontal.first[x];
      const n = horizontal.taps[x];
      const kb = x * hk;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let p = srcRow + xmin * 3;
      for (let t = 0; t < n; t++, p += 3) {
        const w = hw[kb + t];
        r = (r + src[p] * w) | 0;
        g = (g + src[p + 1] * w) | 0;
        b = (b + src[p + 2] * w) | 0;
      }
      const o = outRow + x * 3;
      mid[o] = clip8(r);
      mid[o + 1] = clip8(g);
      mid[o + 2] = clip8(b);
    }
  }
  // vertical pass
  const out = new Uint8Array(width * height * 3);
  const vk = vertical.ksize;
  const vw = vertical.weights;
  const stride = width * 3;
  for (let y = 0; y < height; y++) {
    const ymin = vertical.first[y] - y0;
    const n = vertical.taps[y];
    const kb = y * vk;
    const outRow = y * stride;
    for (let c = 0; c < stride; c++) {
      let v = HALF;
      let p = ymin * stride + c;
      for (let t = 0; t < n; t++, p += stride) v = (v + mid[p] * vw[kb + t]) | 0;
      out[outRow + c] = clip8(v);
    }
  }
  return out;
}
