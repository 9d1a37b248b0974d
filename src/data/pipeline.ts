/**
 * One training (or validation) sample, end to end (§3.2–3.8): choose ordinary augmentation, mosaic
 * (+ mixup) or letterbox, decode with sharp, compose the canvas, jitter colours, move the boxes.
 * Every sample draws from its own random stream `(seed, epoch, position)`.
 */
import { totalmem } from 'node:os';
import { letterbox } from '../boxes/letterbox.js';
import { mergeMosaicBoxes, greyCanvas, paste, placeBoxes, planHsv, planMosaic, planRandom, type BoxRow, type JitterOptions } from './augment.js';
import { hsvJitter, hsvJitterAt, type HsvGains } from './hsv.js';
import { decodeImage, ImageCache, imageSize, sourceForResize, type Resampler } from './image.js';
import { resizeBicubicWith } from './resample.js';
import { bytesToUnitFloat } from './pixels.js';
import { createRandom, randomInt, shuffleInPlace, type Random } from './rng.js';
import type { Sample } from './types.js';

/** Augmentation switches and probabilities (reference defaults in brackets). */
export interface AugmentOptions extends JitterOptions {
  /** network input `[height, width]`, multiples of 32 [416, 416] */
  inputShape: [number, number];
  /** training path (random augmentation) or validation path (letterbox only) [true] */
  train?: boolean;
  /** mosaic on/off and probability [true, 0.5] */
  mosaic?: boolean;
  mosaicProb?: number;
  /** mixup (only after a mosaic) on/off and probability [true, 0.5] */
  mixup?: boolean;
  mixupProb?: number;
  /** mosaic only while epoch < epochs·specialAugRatio [0.7] */
  specialAugRatio?: number;
  /** total epochs (the reference's UnFreeze_Epoch), for specialAugRatio [300] */
  epochs?: number;
  /** the run's seed [11] */
  seed?: number;
  /**
   * keep decoded images in memory ('ram', like Ultralytics' `cache=ram`): each image is decoded once, then
   * only resized; the samples are the same ['none']
   */
  cache?: 'none' | 'ram';
  /** memory for the cache of this pipeline, MiB (the loader splits its budget between workers) [min(4096, a quarter of RAM)] */
  cacheMiB?: number;
  /** resizing: Pillow's BICUBIC bit for bit (the reference's arithmetic, in WebAssembly SIMD), or libvips' bicubic through sharp ['pil'] */
  resampler?: Resampler;
}

/** What the pipeline needs of a sample: image path, size if known, training boxes `[x1,y1,x2,y2,cls]`. */
export interface PipelineItem {
  image: string;
  width?: number;
  height?: number;
  rows: BoxRow[];
}

/** Training items from samples: difficult (VOC) and crowd (COCO) objects are left out, as the reference does. */
export function pipelineItems(samples: Sample[], { keepDifficult = false } = {}): PipelineItem[] {
  return samples.map((s) => ({
    image: s.image,
    width: s.width,
    height: s.height,
    rows: s.boxes.flatMap((b, i) => (!keepDifficult && (s.difficult?.[i] || s.crowd?.[i]) ? [] : [[b[0], b[1], b[2], b[3], s.classes[i]]])),
  }));
}

/** Validates options once, at the boundary; returns them with defaults filled in. */
export function resolveAugmentOptions(opts: AugmentOptions): Required<AugmentOptions> {
  const [h, w] = opts.inputShape ?? [];
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0 && h % 32 === 0 && w % 32 === 0)) {
    throw new Error(`inputShape [${String(opts.inputShape)}] must be [height, width], positive multiples of 32, e.g. [416, 416]`);
  }
  const prob = (name: string, v: number) => {
    if (!(v >= 0 && v <= 1)) throw new Error(`${name} ${v} must be within 0…1`);
    return v;
  };
  const epochs = opts.epochs ?? 300;
  const scale = opts.scale ?? [0.25, 2];
  if (!(scale.length === 2 && scale[0] > 0 && scale[0] <= scale[1] && Number.isFinite(scale[1]))) {
    throw new Error(`scale [${String(scale)}] must be [min, max] with 0 < min ≤ max, e.g. [0.25, 2]`);
  }
  const jitter = opts.jitter ?? 0.3;
  if (!(jitter >= 0 && jitter < 1)) throw new Error(`jitter ${jitter} must be within [0, 1), e.g. 0.3`);
  if (!(Number.isInteger(epochs) && epochs > 0)) throw new Error(`epochs ${epochs} must be a positive integer`);
  const cache = opts.cache ?? 'none';
  if (cache !== 'none' && cache !== 'ram') throw new Error(`cache '${String(cache)}' must be 'none' or 'ram'`);
  const cacheMiB = opts.cacheMiB ?? Math.min(4096, Math.floor(totalmem() / 4 / 2 ** 20));
  if (!(cacheMiB >= 0 && Number.isFinite(cacheMiB))) throw new Error(`cacheMiB ${cacheMiB} must be a number of MiB ≥ 0, e.g. 1024`);
  return {
    cache,
    cacheMiB,
    inputShape: [h, w],
    train: opts.train ?? true,
    mosaic: opts.mosaic ?? true,
    mosaicProb: prob('mosaicProb', opts.mosaicProb ?? 0.5),
    mixup: opts.mixup ?? true,
    mixupProb: prob('mixupProb', opts.mixupProb ?? 0.5),
    specialAugRatio: prob('specialAugRatio', opts.specialAugRatio ?? 0.7),
    epochs,
    seed: opts.seed ?? 11,
    resampler: opts.resampler ?? 'pil',
    jitter,
    scale: [scale[0], scale[1]],
    hue: opts.hue ?? 0.1,
    sat: opts.sat ?? 0.7,
    val: opts.val ?? 0.4,
  };
}

/** An augmented sample: RGB canvas (or the float mix for mixup) and pixel box rows. */
export interface AugmentedSample {
  /** 8-bit canvas, HWC */
  pixels: Uint8Array;
  /** second canvas averaged in by mixup */
  mixWith?: Uint8Array;
  rows: BoxRow[];
  /** which path produced it (for previews and tests) */
  kind: 'random' | 'letterbox' | 'mosaic' | 'mosaic+mixup';
}

/** Produces augmented samples for a list of items; sizes of images are cached. */
export class SamplePipeline {
  readonly options: Required<AugmentOptions>;
  private readonly sizes = new Map<string, Promise<[number, number]>>();
  /** decoded images, with `cache: 'ram'` */
  readonly cache: ImageCache | undefined;
  /** canvases handed back by {@link SamplePipeline.recycle}, reused by the next samples */
  private readonly spare: Uint8Array[] = [];

  constructor(
    readonly items: PipelineItem[],
    options: AugmentOptions,
  ) {
    this.options = resolveAugmentOptions(options);
    this.cache = this.options.cache === 'ram' ? new ImageCache(this.options.cacheMiB * 2 ** 20) : undefined;
    if (items.length === 0) throw new Error('the dataset has no samples: check the split paths in the dataset YAML');
  }

  private size(item: PipelineItem): Promise<[number, number]> {
    let p = this.sizes.get(item.image);
    if (!p) {
      // the header is read once per image even when the annotation gives the size: only the source
      // rows a region needs are decoded, so a wrong annotated size would silently crop the image
      p = imageSize(item.image).then(({ width, height }) => {
        if (item.width && item.height && (item.width !== width || item.height !== height)) {
          throw new Error(`image ${item.image} is ${width}x${height} but its annotation says ${item.width}x${item.height}: fix the annotation (focal-yolo dataset check lists these)`);
        }
        return [width, height];
      });
      this.sizes.set(item.image, p);
    }
    return p;
  }

  /**
   * The sample at dataset `index`, drawn at `position` of `epoch` (the position seeds the randomness).
   *
   * @example
   * const s = await pipeline.sample(3, 0, 17);
   */
  async sample(index: number, epoch: number, position: number): Promise<AugmentedSample> {
    const o = this.options;
    const rng = createRandom(o.seed, epoch, position);
    const item = this.items[index % this.items.length];
    if (!o.train) return this.letterboxed(rng, item);
    if (o.mosaic && rng.next() < o.mosaicProb && epoch < o.epochs * o.specialAugRatio) {
      const picks = [item, ...[0, 1, 2].map(() => this.items[randomInt(rng, this.items.length)])];
      const mosaic = await this.mosaic(rng, shuffleInPlace(rng, picks));
      if (o.mixup && rng.next() < o.mixupProb) {
        const other = await this.random(rng, this.items[randomInt(rng, this.items.length)]);
        return { pixels: mosaic.pixels, mixWith: other.pixels, rows: [...mosaic.rows, ...other.rows], kind: 'mosaic+mixup' };
      }
      return mosaic;
    }
    return this.random(rng, item);
  }

  /**
   * Hands a sample's canvases back once its pixels are no longer needed (after {@link writePixels}):
   * later samples fill them instead of allocating new ones. A few are kept.
   *
   * @example
   * const s = await pipeline.sample(3, 0, 17);
   * writePixels(s, batch, 0);
   * pipeline.recycle(s);
   */
  recycle(sample: AugmentedSample): void {
    for (const canvas of [sample.pixels, sample.mixWith]) if (canvas && this.spare.length < 8) this.spare.push(canvas);
  }

  /** §3.3: random scale/aspect, placement, flip, HSV. */
  async random(rng: Random, item: PipelineItem): Promise<AugmentedSample> {
    const [h, w] = this.options.inputShape;
    const [iw, ih] = await this.size(item);
    const p = planRandom(rng, iw, ih, w, h, this.options);
    const gains = planHsv(rng, this.options);
    const canvas = greyCanvas(w, h, gains, this.spare.pop());
    // Mirroring the whole canvas equals pasting the mirrored image at the mirrored offset.
    await pasteImage(canvas, w, h, item.image, [iw, ih], p.nw, p.nh, p.flip ? w - p.dx - p.nw : p.dx, p.dy, p.flip, [0, 0, w, h], gains, this.options.resampler, this.cache);
    return { pixels: canvas, rows: placeBoxes(rng, item.rows, iw, ih, p, w, h, 'canvas'), kind: 'random' };
  }

  /** §3.4: letterbox, no colour change. */
  async letterboxed(rng: Random, item: PipelineItem): Promise<AugmentedSample> {
    const [h, w] = this.options.inputShape;
    const [iw, ih] = await this.size(item);
    const lb = letterbox([iw, ih], [w, h]);
    const canvas = greyCanvas(w, h, undefined, this.spare.pop());
    await pasteImage(canvas, w, h, item.image, [iw, ih], lb.nw, lb.nh, lb.dx, lb.dy, false, [0, 0, w, h], undefined, this.options.resampler, this.cache);
    const p = { nw: lb.nw, nh: lb.nh, dx: lb.dx, dy: lb.dy, flip: false };
    return { pixels: canvas, rows: placeBoxes(rng, item.rows, iw, ih, p, w, h, 'canvas'), kind: 'letterbox' };
  }

  /** §3.6: four images around a random cut point, HSV once on the composite. */
  async mosaic(rng: Random, picks: PipelineItem[]): Promise<AugmentedSample> {
    const [h, w] = this.options.inputShape;
    const sizes = await Promise.all(picks.map((it) => this.size(it)));
    const plan = planMosaic(rng, sizes, w, h, picks.map((it) => it.rows.length > 0), this.options);
    const gains = planHsv(rng, this.options);
    const { cutx, cuty } = plan;
    const quadrants: [number, number, number, number][] = [
      [0, 0, cutx, cuty],
      [0, cuty, cutx, h],
      [cutx, cuty, w, h],
      [cutx, 0, w, cuty],
    ];
    const canvas = greyCanvas(w, h, gains, this.spare.pop());
    await Promise.all(
      picks.map((it, i) => {
        const t = plan.tiles[i];
        return pasteImage(canvas, w, h, it.image, sizes[i], t.nw, t.nh, t.dx, t.dy, t.flip, quadrants[i], gains, this.options.resampler, this.cache);
      }),
    );
    const tileRows = picks.map((it, i) => placeBoxes(rng, it.rows, sizes[i][0], sizes[i][1], plan.tiles[i], w, h, 'source'));
    return { pixels: canvas, rows: mergeMosaicBoxes(tileRows, cutx, cuty), kind: 'mosaic' };
  }
}

/**
 * Decodes `image` resized to (nw, nh) (mirrored first if `flip`) and pastes it at (x, y), keeping only
 * what falls inside `clip` of the (w × h) canvas; only that visible part is resampled. With `gains`
 * the HSV jitter is applied to the pasted pixels (it is per pixel, so jittering the parts and the grey
 * fill equals jittering the finished canvas, as the reference does).
 */
async function pasteImage(
  canvas: Uint8Array,
  w: number,
  h: number,
  image: string,
  sourceSize: [number, number],
  nw: number,
  nh: number,
  x: number,
  y: number,
  flip: boolean,
  clip: [number, number, number, number],
  gains: HsvGains | undefined,
  resampler: Resampler,
  cache: ImageCache | undefined,
): Promise<void> {
  const x0 = Math.max(x, clip[0], 0);
  const y0 = Math.max(y, clip[1], 0);
  const x1 = Math.min(x + nw, clip[2], w);
  const y1 = Math.min(y + nh, clip[3], h);
  if (x0 >= x1 || y0 >= y1) {
    // nothing visible, but a broken file must still fail
    await (cache ? cache.get(image) : imageSize(image));
    return;
  }
  const region: [number, number, number, number] = [x0 - x, y0 - y, x1 - x0, y1 - y0];
  if (resampler === 'pil') {
    // resize, jitter and paste in one go from the pixel kernels' memory (no copies in between)
    const src = await sourceForResize(image, [nw, nh], region, sourceSize, cache);
    resizeBicubicWith(src.data, src.width, src.height, nw, nh, region, src.top, flip, (part, at) => {
      if (gains) hsvJitterAt(at, part.length / 3, gains);
      paste(canvas, w, h, part, x1 - x0, y1 - y0, x0, y0);
    });
    return;
  }
  const part = await decodeImage(image, { size: [nw, nh], flip, region, resampler, sourceSize, cache });
  if (gains) hsvJitter(part.data, gains);
  paste(canvas, w, h, part.data, x1 - x0, y1 - y0, x0, y0);
}

/** Writes a sample's pixels as float32 0..1 into `out` at `offset` (mixup: the plain average, §3.7). */
export function writePixels(sample: AugmentedSample, out: Float32Array, offset: number): void {
  bytesToUnitFloat(sample.pixels, sample.mixWith, out, offset);
}
