/**
 * The reference's HSV colour jitter (§3.5): OpenCV's 8-bit RGB→HSV (H in degrees/2, 0…179),
 * per-channel lookup tables H' = (x·r_h) mod 180 (hue is multiplied, quirk 8, reproduced),
 * S' = clip(x·r_s), V' = clip(x·r_v), each truncated to uint8, then OpenCV's HSV→RGB.
 */

import { dataArea, FACTOR_AT, HDIV_AT, LUT_H_AT, LUT_S_AT, LUT_V_AT, pixelKernels, SDIV_AT } from './pixels.js';

const HSV_SHIFT = 12;
const HALF = 1 << (HSV_SHIFT - 1);
// OpenCV's fixed-point reciprocal tables: round((255 << 12) / v) and round((180 << 12) / (6·diff)).
const SDIV = new Int32Array(256);
const HDIV = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  SDIV[i] = Math.round((255 << HSV_SHIFT) / i);
  HDIV[i] = Math.round((180 << HSV_SHIFT) / (6 * i));
}

/**
 * OpenCV `COLOR_RGB2HSV` for one 8-bit pixel: H ∈ [0, 180), S, V ∈ [0, 255].
 *
 * @example
 * rgbToHsv(100, 150, 200); // [105, 127, 200]
 */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const v = Math.max(r, g, b);
  const diff = v - Math.min(r, g, b);
  const s = (diff * SDIV[v] + HALF) >> HSV_SHIFT;
  let h: number;
  if (v === r) h = g - b;
  else if (v === g) h = b - r + 2 * diff;
  else h = r - g + 4 * diff;
  h = (h * HDIV[diff] + HALF) >> HSV_SHIFT;
  if (h < 0) h += 180;
  return [h, s, v];
}

// OpenCV's sector table, reordered for RGB output: which of [v, p, q, t] goes to r, g, b.
const SECTOR_R = [0, 2, 1, 1, 3, 0];
const SECTOR_G = [3, 0, 0, 2, 1, 1];
const SECTOR_B = [1, 1, 3, 0, 0, 2];

/**
 * OpenCV's HSV→RGB is V times a factor that depends only on (H, S): one of 1, 1 − S, 1 − S·f,
 * 1 − S·(1 − f) per channel (f the fractional sector). Tabulated once for H < 180 (after the hue
 * LUT, H' < 180), S ≤ 255, index (H << 8) | S.
 */
const FACTOR_R = new Float32Array(180 * 256);
const FACTOR_G = new Float32Array(180 * 256);
const FACTOR_B = new Float32Array(180 * 256);
for (let h = 0; h < 180; h++) {
  const hf = h / 30;
  const sector = Math.floor(hf);
  const f = hf - sector;
  for (let s = 0; s < 256; s++) {
    const sf = s / 255;
    const tab = [1, 1 - sf, 1 - sf * f, 1 - sf * (1 - f)];
    FACTOR_R[(h << 8) | s] = tab[SECTOR_R[sector]];
    FACTOR_G[(h << 8) | s] = tab[SECTOR_G[sector]];
    FACTOR_B[(h << 8) | s] = tab[SECTOR_B[sector]];
  }
}

/** Rounds like OpenCV's saturate_cast<uchar>(float): nearest, ties to even, clipped to 0…255. */
function saturateByte(x: number): number {
  let r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/**
 * OpenCV `COLOR_HSV2RGB` for one 8-bit pixel (H in 0…179).
 *
 * @example
 * hsvToRgb(60, 255, 255); // [0, 255, 0]
 */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const sf = Math.fround(s * Math.fround(1 / 255));
  const vf = Math.fround(v * Math.fround(1 / 255));
  if (sf === 0) {
    const c = saturateByte(Math.fround(vf * 255));
    return [c, c, c];
  }
  let hf = Math.fround(h * Math.fround(6 / 180));
  while (hf < 0) hf += 6;
  while (hf >= 6) hf -= 6;
  let sector = Math.floor(hf);
  hf = Math.fround(hf - sector);
  if (sector < 0 || sector >= 6) {
    sector = 0;
    hf = 0;
  }
  const tab0 = vf;
  const tab1 = Math.fround(vf * Math.fround(1 - sf));
  const tab2 = Math.fround(vf * Math.fround(1 - Math.fround(sf * hf)));
  const tab3 = Math.fround(vf * Math.fround(1 - Math.fround(sf * Math.fround(1 - hf))));
  const tab = [tab0, tab1, tab2, tab3];
  return [
    saturateByte(Math.fround(tab[SECTOR_R[sector]] * 255)),
    saturateByte(Math.fround(tab[SECTOR_G[sector]] * 255)),
    saturateByte(Math.fround(tab[SECTOR_B[sector]] * 255)),
  ];
}

/** The three jitter factors `[r_h, r_s, r_v]`, each `U(−1, 1)·[hue, sat, val] + 1`. */
export type HsvGains = [number, number, number];

/** The jitter's lookup tables: H' = trunc((x·r_h) mod 180), S' and V' = trunc(clip(x·r, 0, 255)). */
function jitterTables([rh, rs, rv]: HsvGains): { lutH: Uint8Array; lutS: Uint8Array; lutV: Uint8Array } {
  const lutH = new Uint8Array(256);
  const lutS = new Uint8Array(256);
  const lutV = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    lutH[x] = Math.trunc((x * rh) % 180);
    lutS[x] = Math.trunc(Math.min(255, Math.max(0, x * rs)));
    lutV[x] = Math.trunc(Math.min(255, Math.max(0, x * rv)));
  }
  return { lutH, lutS, lutV };
}

let tablesWritten = false;
let lutGains: HsvGains | undefined;

/**
 * The HSV jitter on `n` RGB pixels already in the pixel kernels' memory at byte offset `at` (the
 * pipeline jitters a resized part where the resize left it). The lookup tables are rebuilt only when
 * the gains change (a mosaic's tiles and its grey share them).
 */
export function hsvJitterAt(at: number, n: number, gains: HsvGains): void {
  const k = pixelKernels();
  if (!tablesWritten) {
    new Int32Array(k.memory.buffer, SDIV_AT, 256).set(SDIV);
    new Int32Array(k.memory.buffer, HDIV_AT, 256).set(HDIV);
    // the float32 factors times 2^31, exact integers (every nonzero factor is ≥ 1/255 > 2^-8)
    const factor = new Uint32Array(k.memory.buffer, FACTOR_AT, 180 * 256 * 4);
    for (let i = 0; i < 180 * 256; i++) {
      factor[4 * i] = FACTOR_R[i] * 2 ** 31;
      factor[4 * i + 1] = FACTOR_G[i] * 2 ** 31;
      factor[4 * i + 2] = FACTOR_B[i] * 2 ** 31;
    }
    tablesWritten = true;
  }
  if (!lutGains || lutGains[0] !== gains[0] || lutGains[1] !== gains[1] || lutGains[2] !== gains[2]) {
    const { lutH, lutS, lutV } = jitterTables(gains);
    const memory = new Uint8Array(k.memory.buffer);
    memory.set(lutH, LUT_H_AT);
    memory.set(lutS, LUT_S_AT);
    memory.set(lutV, LUT_V_AT);
    lutGains = [gains[0], gains[1], gains[2]];
  }
  k.hsv(at, n);
}

/**
 * Applies the reference's HSV jitter in place to 8-bit RGB pixels (through the WebAssembly kernel in
 * pixels.wat; {@link hsvJitterScalar} is the same in JavaScript).
 *
 * @param data RGB bytes, HWC
 * @param gains `[r_h, r_s, r_v]`; `[1, 1, 1]` is OpenCV's RGB→HSV→RGB round trip
 * @example
 * hsvJitter(image.data, [1.05, 0.8, 1.2]);
 */
export function hsvJitter(data: Uint8Array, gains: HsvGains): void {
  if (data.length % 3 !== 0) throw new Error(`hsvJitter: ${data.length} bytes are not whole RGB pixels`);
  const at = dataArea(data.length);
  const memory = new Uint8Array(pixelKernels().memory.buffer);
  memory.set(data, at);
  hsvJitterAt(at, data.length / 3, gains);
  data.set(memory.subarray(at, at + data.length));
}

/**
 * {@link hsvJitter} in plain JavaScript, pixel by pixel: the readable statement of the arithmetic, which
 * the WebAssembly kernel (pixels.wat) reproduces bit for bit; tests compare the two on every colour.
 *
 * @example
 * hsvJitterScalar(image.data, [1.05, 0.8, 1.2]);
 */
export function hsvJitterScalar(data: Uint8Array, gains: HsvGains): void {
  const { lutH, lutS, lutV } = jitterTables(gains);
  for (let i = 0; i < data.length; i += 3) {
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    // RGB → HSV (OpenCV 8-bit, fixed point)
    const v = r > g ? (r > b ? r : b) : g > b ? g : b;
    const vmin = r < g ? (r < b ? r : b) : g < b ? g : b;
    const diff = v - vmin;
    const s = (diff * SDIV[v] + HALF) >> HSV_SHIFT;
    let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
    h = (h * HDIV[diff] + HALF) >> HSV_SHIFT;
    if (h < 0) h += 180;
    // lookup tables, then HSV → RGB as V' times the per-(H', S') channel factors
    const k = (lutH[h] << 8) | lutS[s];
    const vv = lutV[v];
    data[i] = (vv * FACTOR_R[k] + 0.5) | 0;
    data[i + 1] = (vv * FACTOR_G[k] + 0.5) | 0;
    data[i + 2] = (vv * FACTOR_B[k] + 0.5) | 0;
  }
}
