/**
 * The synthetic dataset: coloured shapes of varied size, aspect and count on textured backgrounds,
 * written as a real dataset (images + YOLO txt or VOC, or COCO / lines) with an exact ground truth
 * (each box is the tight box of the shape's pixels). The embedded default for the demo and the tests.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { encodeImage } from './image.js';
import { createRandom, randomInt, uniform, type Random } from './rng.js';
import { DATASET_FORMATS, type DatasetFormat, type Sample } from './types.js';
import { writeDataset } from './write.js';

/** The shapes, in class order. */
export const SYNTH_SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross', 'ring', 'hexagon', 'frame'] as const;
const COLOUR_FAMILIES: [string, number][] = [['red', 0], ['yellow', 60], ['green', 120], ['cyan', 180], ['blue', 240], ['magenta', 300]];

/** Is (u, v) ∈ [−1, 1]² inside the shape? v grows downwards. */
function inside(shape: number, u: number, v: number): boolean {
  const au = Math.abs(u);
  const av = Math.abs(v);
  switch (shape) {
    case 0: return u * u + v * v <= 1;
    case 1: return true;
    case 2: return au <= (v + 1) / 2;
    case 3: return au + av <= 1;
    case 4: return au <= 0.35 || av <= 0.35;
    case 5: { const r = u * u + v * v; return r <= 1 && r >= 0.3; }
    case 6: return au + av * 0.5 <= 1;
    default: return Math.max(au, av) >= 0.6;
  }
}

/** Class names for `classes` classes: shape names, or colour-shape pairs beyond 8 classes. */
export function synthClassNames(classes: number): string[] {
  const max = SYNTH_SHAPES.length * COLOUR_FAMILIES.length;
  if (!(Number.isInteger(classes) && classes >= 1 && classes <= max)) {
    throw new Error(`classes ${classes} must be an integer in 1…${max} for the synthetic dataset`);
  }
  if (classes <= SYNTH_SHAPES.length) return SYNTH_SHAPES.slice(0, classes);
  return Array.from({ length: classes }, (_, k) => `${COLOUR_FAMILIES[Math.floor(k / 8)][0]}-${SYNTH_SHAPES[k % 8]}`);
}

function hsvToRgb01(hDeg: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + hDeg / 60) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5) * 255, f(3) * 255, f(1) * 255];
}

/** Renders one image; returns its pixels and the ground-truth boxes. */
export function renderSynthImage(
  rng: Random, size: number, classes: number, maxObjects = 6, objectArea: [number, number] = [0.015, 0.2],
): { pixels: Uint8Array; boxes: number[][]; classes: number[] } {
  const px = new Float32Array(size * size * 3);
  // Textured background: a dull base colour, two low-frequency waves and a little noise.
  const base = hsvToRgb01(uniform(rng, 0, 360), uniform(rng, 0, 0.25), uniform(rng, 0.3, 0.8));
  const waves = [0, 1].map(() => ({ fx: uniform(rng, 0.01, 0.08), fy: uniform(rng, 0.01, 0.08), phase: uniform(rng, 0, 6.3), amp: uniform(rng, 8, 25) }));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let t = 0;
      for (const wv of waves) t += wv.amp * Math.sin(x * wv.fx + y * wv.fy + wv.phase);
      const o = (y * size + x) * 3;
      const n = (rng.next() - 0.5) * 16;
      px[o] = base[0] + t + n;
      px[o + 1] = base[1] + t + n;
      px[o + 2] = base[2] + t + n;
    }
  }
  const count = 1 + randomInt(rng, maxObjects);
  const boxes: number[][] = [];
  const labels: number[] = [];
  for (let k = 0; k < count; k++) {
    const cls = randomInt(rng, classes);
    const shape = cls % SYNTH_SHAPES.length;
    // Size and aspect vary; retry placements that overlap an earlier box too much.
    for (let attempt = 0; attempt < 20; attempt++) {
      const area = uniform(rng, objectArea[0], objectArea[1]) * size * size;
      const aspect = Math.exp(uniform(rng, -0.6, 0.6));
      const bw = Math.min(size - 2, Math.max(8, Math.sqrt(area * aspect)));
      const bh = Math.min(size - 2, Math.max(8, Math.sqrt(area / aspect)));
      const x0 = uniform(rng, 0, size - bw);
      const y0 = uniform(rng, 0, size - bh);
      const box = [x0, y0, x0 + bw, y0 + bh];
      if (boxes.some((b) => iou(b, box) > 0.15)) continue;
      const hue = classes > SYNTH_SHAPES.length ? COLOUR_FAMILIES[Math.floor(cls / 8)][1] + uniform(rng, -15, 15) : uniform(rng, 0, 360);
      const colour = hsvToRgb01((hue + 360) % 360, uniform(rng, 0.7, 1), uniform(rng, 0.75, 1));
      let x1 = size, y1 = size, x2 = -1, y2 = -1;
      for (let y = Math.floor(y0); y < Math.ceil(y0 + bh); y++) {
        for (let x = Math.floor(x0); x < Math.ceil(x0 + bw); x++) {
          const u = ((x + 0.5 - x0) / bw) * 2 - 1;
          const v = ((y + 0.5 - y0) / bh) * 2 - 1;
          if (u < -1 || u > 1 || v < -1 || v > 1 || !inside(shape, u, v)) continue;
          const o = (y * size + x) * 3;
          px[o] = colour[0];
          px[o + 1] = colour[1];
          px[o + 2] = colour[2];
          if (x < x1) x1 = x;
          if (y < y1) y1 = y;
          if (x > x2) x2 = x;
          if (y > y2) y2 = y;
        }
      }
      if (x2 < x1) break;
      boxes.push([x1, y1, x2 + 1, y2 + 1]);
      labels.push(cls);
      break;
    }
  }
  const pixels = new Uint8Array(px.length);
  for (let i = 0; i < px.length; i++) pixels[i] = Math.max(0, Math.min(255, Math.round(px[i])));
  return { pixels, boxes, classes: labels };
}

function iou(a: number[], b: number[]): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** Options of {@link synthesizeDataset}. */
export interface SynthOptions {
  /** output folder (created) */
  out: string;
  /** number of images [200] */
  images?: number;
  /** number of classes, 1…48 [4] */
  classes?: number;
  /** image side in pixels [224] */
  size?: number;
  seed?: number;
  /** dataset format [yolo] */
  format?: DatasetFormat;
  /** share of images in the val split [0.2] */
  valFraction?: number;
  /** most objects per image [6] */
  maxObjects?: number;
  /** range of an object's box area as a share of the image area [0.015, 0.2] */
  objectArea?: [number, number];
  /** image encoding [jpeg] */
  imageFormat?: 'jpeg' | 'png';
}

/**
 * Writes a synthetic shapes dataset and its `data.yaml`; returns the YAML path and counts.
 *
 * @example
 * const { yaml } = await synthesizeDataset({ out: 'data/shapes', images: 300, classes: 4, size: 224, seed: 1 });
 */
export async function synthesizeDataset(opts: SynthOptions): Promise<{ yaml: string; names: string[]; train: number; val: number; objects: number }> {
  const images = opts.images ?? 200;
  const size = opts.size ?? 224;
  const seed = opts.seed ?? 0;
  const format = opts.format ?? 'yolo';
  const valFraction = opts.valFraction ?? 0.2;
  const imageFormat = opts.imageFormat ?? 'jpeg';
  if (!(Number.isInteger(images) && images >= 1)) throw new Error(`images ${images} must be a positive integer`);
  if (!(Number.isInteger(size) && size >= 32 && size <= 4096)) throw new Error(`size ${size} must be an integer in 32…4096`);
  if (!DATASET_FORMATS.includes(format)) throw new Error(`format '${format}' is unknown; use one of ${DATASET_FORMATS.join(', ')}`);
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`valFraction ${valFraction} must be within [0, 1)`);
  const maxObjects = opts.maxObjects ?? 6;
  if (!(Number.isInteger(maxObjects) && maxObjects >= 1)) throw new Error(`maxObjects ${maxObjects} must be a positive integer`);
  const objectArea = opts.objectArea ?? [0.015, 0.2];
  if (!(objectArea.length === 2 && objectArea[0] > 0 && objectArea[0] <= objectArea[1] && objectArea[1] <= 0.5)) {
    throw new Error(`objectArea [${String(objectArea)}] must be [min, max] shares of the image area with 0 < min ≤ max ≤ 0.5, e.g. [0.015, 0.2]`);
  }
  const names = synthClassNames(opts.classes ?? 4);
  const out = resolve(opts.out);
  const numVal = Math.round(images * valFraction);
  const ext = imageFormat === 'jpeg' ? 'jpg' : 'png';
  const rendered = new Map<string, Uint8Array>();
  const samples: Sample[] = [];
  for (let i = 0; i < images; i++) {
    const img = renderSynthImage(createRandom(seed, i, 0x5eed), size, names.length, maxObjects, objectArea);
    const image = join(out, `synth_${String(i).padStart(6, '0')}.${ext}`);
    rendered.set(image, img.pixels);
    samples.push({ image, width: size, height: size, boxes: img.boxes, classes: img.classes });
  }
  const splits: Record<string, Sample[]> = { train: samples.slice(numVal), val: samples.slice(0, numVal) };
  if (numVal === 0) delete splits.val;
  const yaml = await writeDataset({
    out,
    format,
    names,
    splits,
    placeImage: async (sample, destination) => {
      const pixels = rendered.get(sample.image)!;
      const bytes = await encodeImage({ data: pixels, width: size, height: size }, imageFormat, 95);
      const tmp = `${destination}.tmp-${process.pid}`;
      await writeFile(tmp, bytes);
      await rename(tmp, destination);
    },
  });
  return { yaml, names, train: splits.train.length, val: numVal, objects: samples.reduce((n, s) => n + s.boxes.length, 0) };
}
