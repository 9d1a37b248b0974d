/**
 * The reference's HSV colour jitter (§3.5): OpenCV's 8-bit RGB→HSV (H in degrees/2, 0…179),
 * per-channel lookup tables H' = (x·r_h) mod 180 (hue is multiplied, quirk 8, reproduced),
 * S' = clip(x·r_s), V' = clip(x·r_v), each truncated to uint8, then OpenCV's HSV→RGB.
 */

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

/**
 * Applies the reference's HSV jitter in place to 8-bit RGB pixels.
 *
 * @param data RGB bytes, HWC
 * @param gains `[r_h, r_s, r_v]`; `[1, 1, 1]` is OpenCV's RGB→HSV→RGB round trip
 * @example
 * hsvJitter(image.data, [1.05, 0.8, 1.2]);
 */
export function hsvJitter(data: Uint8Array, gains: HsvGains): void {
  const [rh, rs, rv] = gains;
  const lutH = new Uint8Array(256);
  const lutS = new Uint8Array(256);
  const lutV = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    lutH[x] = Math.trunc((x * rh) % 180);
    lutS[x] = Math.trunc(Math.min(255, Math.max(0, x * rs)));
    lutV[x] = Math.trunc(Math.min(255, Math.max(0, x * rv)));
  }
  // The result depends only on the input colour: a direct-mapped cache of 64 Ki colours skips most
  // conversions (canvases have large flat areas); misses compute OpenCV's conversions inline.
  const keys = new Int32Array(CACHE_SIZE).fill(-1);
  const values = new Int32Array(CACHE_SIZE);
  for (let i = 0; i < data.length; i += 3) {
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    const key = (r << 16) | (g << 8) | b;
    const slot = (Math.imul(key, 0x9e3779b1) >>> 16) & (CACHE_SIZE - 1);
    let out: number;
    if (keys[slot] === key) out = values[slot];
    else {
      // RGB → HSV (OpenCV 8-bit)
      const v = r > g ? (r > b ? r : b) : g > b ? g : b;
      const vmin = r < g ? (r < b ? r : b) : g < b ? g : b;
      const diff = v - vmin;
      const s = (diff * SDIV[v] + HALF) >> HSV_SHIFT;
      let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
      h = (h * HDIV[diff] + HALF) >> HSV_SHIFT;
      if (h < 0) h += 180;
      // lookup tables, then HSV → RGB (OpenCV, float32)
      // (double precision here; OpenCV rounds in float32, which can differ by 1 at exact ties)
      const sf = lutS[s] / 255;
      const vf = lutV[v];
      let ro: number, go: number, bo: number;
      if (sf === 0) ro = go = bo = vf;
      else {
        let hf = lutH[h] / 30;
        if (hf >= 6) hf -= 6;
        const sector = hf | 0;
        hf -= sector;
        const p = vf * (1 - sf);
        const q = vf * (1 - sf * hf);
        const t = vf * (1 - sf * (1 - hf));
        switch (sector) {
          case 0: ro = vf; go = t; bo = p; break;
          case 1: ro = q; go = vf; bo = p; break;
          case 2: ro = p; go = vf; bo = t; break;
          case 3: ro = p; go = q; bo = vf; break;
          case 4: ro = t; go = p; bo = vf; break;
          default: ro = vf; go = p; bo = q;
        }
        ro = (ro + 0.5) | 0;
        go = (go + 0.5) | 0;
        bo = (bo + 0.5) | 0;
      }
      out = (ro << 16) | (go << 8) | bo;
      keys[slot] = key;
      values[slot] = out;
    }
    data[i] = out >>> 16;
    data[i + 1] = (out >>> 8) & 255;
    data[i + 2] = out & 255;
  }
}

const CACHE_SIZE = 1 << 16;
