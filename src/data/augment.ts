/**
 * The reference's augmentations (§3.3–3.7) as pure functions on 8-bit RGB canvases and pixel boxes.
 * Random draws are made by the `plan*` functions, so image work and box work can be tested apart.
 * Box rows are `[x1, y1, x2, y2, cls]`, integer pixels (quirk 7: coordinates truncated, reproduced).
 */
import { GREY } from './image.js';
import { hsvJitter, type HsvGains } from './hsv.js';
import { shuffleInPlace, uniform, type Random } from './rng.js';

/** A box row `[x1, y1, x2, y2, cls]` in pixels. */
export type BoxRow = number[];

/** The reference's jitter constants (§3.3). */
export interface JitterOptions {
  /** aspect jitter: new_ar = ar·U(1−j, 1+j)/U(1−j, 1+j); default 0.3 */
  jitter?: number;
  /** scale range of the random placement (§3.3): the longer side becomes U(min, max) · input side; default [0.25, 2] */
  scale?: [number, number];
  /** HSV gains ranges; defaults 0.1, 0.7, 0.4 */
  hue?: number;
  sat?: number;
  val?: number;
}

/** Where one image goes: resized to (nw, nh), pasted at (dx, dy), optionally mirrored. */
export interface Placement {
  nw: number;
  nh: number;
  dx: number;
  dy: number;
  flip: boolean;
}

/** new_ar and the nw/nh rule shared by §3.3 and §3.6. */
function jitteredSize(rng: Random, iw: number, ih: number, w: number, h: number, scale: number, jitter: number): [number, number] {
  const newAr = ((iw / ih) * uniform(rng, 1 - jitter, 1 + jitter)) / uniform(rng, 1 - jitter, 1 + jitter);
  let nw: number;
  let nh: number;
  if (newAr < 1) {
    nh = Math.trunc(scale * h);
    nw = Math.trunc(nh * newAr);
  } else {
    nw = Math.trunc(scale * w);
    nh = Math.trunc(nw / newAr);
  }
  // PIL refuses a zero-size resize; extreme aspect ratios would hit it, so keep at least one pixel.
  return [Math.max(1, nw), Math.max(1, nh)];
}

/**
 * Draws the ordinary random augmentation of §3.3: aspect/scale jitter (scale U(0.25, 2)), placement, flip.
 *
 * @param iw source width, `ih` source height, `w`/`h` the network input
 */
export function planRandom(rng: Random, iw: number, ih: number, w: number, h: number, opts: JitterOptions = {}): Placement {
  const [lo, hi] = opts.scale ?? [0.25, 2];
  const scale = uniform(rng, lo, hi);
  const [nw, nh] = jitteredSize(rng, iw, ih, w, h, scale, opts.jitter ?? 0.3);
  const dx = Math.trunc(uniform(rng, 0, w - nw));
  const dy = Math.trunc(uniform(rng, 0, h - nh));
  const flip = rng.next() < 0.5;
  return { nw, nh, dx, dy, flip };
}

/** Draws the HSV gains of §3.5: `U(−1, 1)·[hue, sat, val] + 1`. */
export function planHsv(rng: Random, opts: JitterOptions = {}): HsvGains {
  return [
    uniform(rng, -1, 1) * (opts.hue ?? 0.1) + 1,
    uniform(rng, -1, 1) * (opts.sat ?? 0.7) + 1,
    uniform(rng, -1, 1) * (opts.val ?? 0.4) + 1,
  ];
}

/** One mosaic tile: its placement (flip applies to the source, before resizing) and whether it flips. */
export interface MosaicPlan {
  cutx: number;
  cuty: number;
  tiles: Placement[];
}

/**
 * Draws a mosaic (§3.6): cut point U(0.3, 0.7) of the input, and per tile a flip (only used when the
 * tile has boxes, quirk 6 reproduced), aspect jitter and scale U(0.4, 1).
 *
 * @param sizes `[iw, ih]` of the four images, in mosaic order
 */
export function planMosaic(rng: Random, sizes: [number, number][], w: number, h: number, hasBoxes: boolean[], opts: JitterOptions = {}): MosaicPlan {
  const jitter = opts.jitter ?? 0.3;
  const cutx = Math.trunc(w * uniform(rng, 0.3, 0.7));
  const cuty = Math.trunc(h * uniform(rng, 0.3, 0.7));
  const tiles = sizes.map(([iw, ih], index) => {
    const flip = rng.next() < 0.5 && hasBoxes[index];
    const scale = uniform(rng, 0.4, 1);
    const [nw, nh] = jitteredSize(rng, iw, ih, w, h, scale, jitter);
    const dx = index === 0 || index === 1 ? cutx - nw : cutx;
    const dy = index === 0 || index === 3 ? cuty - nh : cuty;
    return { nw, nh, dx, dy, flip };
  });
  return { cutx, cuty, tiles };
}

/**
 * Moves boxes with an image placed at (dx, dy) after resizing (iw, ih) → (nw, nh), as §3.3 step 8:
 * truncate to integers, mirror if `flip` (the whole canvas of width `w`), clip to the canvas, keep
 * boxes wider and taller than 1 px. `flipSource` mirrors in the source image first (the mosaic's flip).
 * The row order is shuffled with `rng` as the reference does.
 */
export function placeBoxes(
  rng: Random,
  rows: BoxRow[],
  iw: number,
  ih: number,
  p: Placement,
  w: number,
  h: number,
  flipMode: 'canvas' | 'source',
): BoxRow[] {
  const out: BoxRow[] = [];
  const shuffled = shuffleInPlace(rng, rows.map((r) => r.map(Math.trunc)));
  for (const r of shuffled) {
    let [x1, , x2] = r;
    let [, y1, , y2] = r;
    if (p.flip && flipMode === 'source') [x1, x2] = [iw - x2, iw - x1];
    x1 = Math.trunc((x1 * p.nw) / iw + p.dx);
    x2 = Math.trunc((x2 * p.nw) / iw + p.dx);
    y1 = Math.trunc((y1 * p.nh) / ih + p.dy);
    y2 = Math.trunc((y2 * p.nh) / ih + p.dy);
    if (p.flip && flipMode === 'canvas') [x1, x2] = [w - x2, w - x1];
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > w) x2 = w;
    if (y2 > h) y2 = h;
    if (x2 - x1 > 1 && y2 - y1 > 1) out.push([x1, y1, x2, y2, r[4]]);
  }
  return out;
}

/**
 * Clips each tile's boxes to its mosaic quadrant (§3.6 step 5, comparisons as the reference writes them),
 * then drops boxes left with zero width or height (quirk 6, fixed: the loss refuses them).
 */
export function mergeMosaicBoxes(tiles: BoxRow[][], cutx: number, cuty: number): BoxRow[] {
  const out: BoxRow[] = [];
  tiles.forEach((rows, i) => {
    for (const r of rows) {
      let [x1, y1, x2, y2] = r;
      const top = i === 0 || i === 3;
      const left = i === 0 || i === 1;
      if (top ? y1 > cuty : y2 < cuty) continue;
      if (left ? x1 > cutx : x2 < cutx) continue;
      if (y2 >= cuty && y1 <= cuty) {
        if (top) y2 = cuty;
        else y1 = cuty;
      }
      if (x2 >= cutx && x1 <= cutx) {
        if (left) x2 = cutx;
        else x1 = cutx;
      }
      if (x2 - x1 > 0 && y2 - y1 > 0) out.push([x1, y1, x2, y2, r[4]]);
    }
  });
  return out;
}

/** A (w × h) RGB canvas filled with the reference's grey, passed through the HSV jitter when `gains` are given (`into`: a spare canvas of that size to fill instead of a new one). */
export function greyCanvas(w: number, h: number, gains?: HsvGains, into?: Uint8Array): Uint8Array {
  const grey = new Uint8Array([GREY, GREY, GREY]);
  if (gains) hsvJitter(grey, gains);
  const canvas = into && into.length === w * h * 3 ? into : new Uint8Array(w * h * 3);
  if (grey[0] === grey[1] && grey[1] === grey[2]) return canvas.fill(grey[0]);
  for (let i = 0; i < canvas.length; i += 3) canvas.set(grey, i);
  return canvas;
}

/**
 * Pastes an (nw × nh) RGB image onto a (w × h) canvas at (dx, dy), cutting what falls outside the
 * rectangle `[x0, x1) × [y0, y1)` of the canvas (default: the whole canvas).
 */
export function paste(
  canvas: Uint8Array,
  w: number,
  h: number,
  src: Uint8Array,
  nw: number,
  nh: number,
  dx: number,
  dy: number,
  clip: [number, number, number, number] = [0, 0, w, h],
): void {
  const [cx0, cy0, cx1, cy1] = clip;
  const xa = Math.max(dx, cx0, 0);
  const xb = Math.min(dx + nw, cx1, w);
  const ya = Math.max(dy, cy0, 0);
  const yb = Math.min(dy + nh, cy1, h);
  if (xa >= xb || ya >= yb) return;
  for (let y = ya; y < yb; y++) {
    const s = ((y - dy) * nw + (xa - dx)) * 3;
    canvas.set(src.subarray(s, s + (xb - xa) * 3), (y * w + xa) * 3);
  }
}

/**
 * Turns pixel box rows into training targets `[cx, cy, w, h, cls]` normalised by the input size (§3.8).
 *
 * @example
 * encodeTargets([[0, 0, 208, 104, 2]], 416, 416); // Float32Array [0.25, 0.125, 0.5, 0.25, 2]
 */
export function encodeTargets(rows: BoxRow[], w: number, h: number): Float32Array {
  const out = new Float32Array(rows.length * 5);
  rows.forEach((r, i) => {
    const x1 = r[0] / w;
    const y1 = r[1] / h;
    const bw = r[2] / w - x1;
    const bh = r[3] / h - y1;
    out.set([x1 + bw / 2, y1 + bh / 2, bw, bh, r[4]], i * 5);
  });
  return out;
}
