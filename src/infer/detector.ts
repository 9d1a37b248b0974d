/**
 * The `Detector`: a network plus its pre- and post-processing, returning boxes in original image
 * pixels (reference-spec §5).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createYolo, loadCheckpoint, loadDarknetWeights, VARIANT_ANCHORS, type Yolo, type YoloVariant } from '../models/index.js';
import { correctBox, decodeOutputs, suppressDetections, type PostprocessOptions } from '../yolo/decode.js';
import { prepareImage, type ImageInput } from './preprocess.js';

/** One detected object. */
export interface Detection {
  /** `[x1, y1, x2, y2]` in original image pixels (not clipped, as the reference) */
  box: [number, number, number, number];
  /** objectness × class probability */
  score: number;
  classId: number;
  className: string;
}

/** Per-call options of {@link Detector.detect}. */
export interface DetectOptions extends PostprocessOptions {
  /** letterbox instead of stretching (default: the detector's, which defaults to false like the reference) */
  letterbox?: boolean;
}

/** Options of the {@link Detector} constructor. */
export interface DetectorOptions extends DetectOptions {
  /** class names, index = class id (default `class0`, `class1`, …) */
  classNames?: string[];
  /** anchors `[w, h]` in input pixels (default: the variant's) */
  anchors?: [number, number][];
  anchorsMask?: number[][];
  /** darknet scale_x_y per level (default none, as the reference) */
  scaleXY?: number[];
}

/** Milliseconds spent in each stage by the last call. */
export interface DetectTimings {
  preprocessMs: number;
  networkMs: number;
  decodeMs: number;
  nmsMs: number;
}

/**
 * Runs a YOLOv4 / YOLOv4-tiny model on images. Defaults are the reference's: confidence 0.5,
 * NMS IoU 0.3, no letterbox, no cap on detections.
 *
 * @example
 * ```ts
 * const detector = await Detector.load('runs/exp/weights/best');
 * for (const d of await detector.detect('street.jpg')) console.log(d.className, d.score.toFixed(2), d.box);
 * ```
 */
export class Detector {
  readonly model: Yolo;
  readonly classNames: string[];
  readonly options: Required<Pick<DetectorOptions, 'confidence' | 'nmsIou' | 'letterbox'>> & DetectorOptions;
  /** Stage timings of the last {@link detect} / {@link detectBatch} call (whole batch). */
  lastTimings: DetectTimings = { preprocessMs: 0, networkMs: 0, decodeMs: 0, nmsMs: 0 };
  private readonly anchors: [number, number][];
  private readonly anchorsMask: number[][];

  constructor(model: Yolo, opts: DetectorOptions = {}) {
    this.model = model;
    this.classNames = opts.classNames ?? Array.from({ length: model.numClasses }, (_, i) => `class${i}`);
    if (this.classNames.length !== model.numClasses) {
      throw new Error(`Detector: ${this.classNames.length} class names for a model with ${model.numClasses} classes; give one name per class`);
    }
    const variantAnchors = VARIANT_ANCHORS[model.variant];
    this.anchors = opts.anchors ?? variantAnchors.anchors;
    this.anchorsMask = opts.anchorsMask ?? variantAnchors.anchorsMask;
    if (opts.scaleXY !== undefined && opts.scaleXY.length !== this.anchorsMask.length) {
      throw new Error(`Detector: scaleXY has ${opts.scaleXY.length} values for ${this.anchorsMask.length} output levels; give one per level, stride 32 first`);
    }
    this.options = { confidence: 0.5, nmsIou: 0.3, letterbox: false, ...opts };
  }

  /**
   * Loads a checkpoint directory written by `saveCheckpoint` (class names and anchors from its sidecar).
   *
   * @example
   * const detector = await Detector.load('runs/exp/weights/best', { confidence: 0.25 });
   */
  static async load(dir: string, opts: DetectorOptions = {}): Promise<Detector> {
    const { model, meta } = await loadCheckpoint(dir);
    return new Detector(model, { classNames: meta.classNames, anchors: meta.anchors, anchorsMask: meta.anchorsMask, ...opts });
  }

  /**
   * A detector from Darknet `.weights` bytes.
   *
   * @example
   * const detector = Detector.fromDarknet(readFileSync('yolov4-tiny.weights'), { variant: 'yolov4-tiny', classNames: COCO_NAMES });
   */
  static fromDarknet(
    weights: Uint8Array,
    opts: DetectorOptions & { variant: YoloVariant; numClasses?: number; inputShape?: [number, number] },
  ): Detector {
    const numClasses = opts.numClasses ?? opts.classNames?.length;
    if (numClasses === undefined) throw new Error('Detector.fromDarknet: give numClasses or classNames');
    const model = createYolo({ variant: opts.variant, numClasses, inputShape: opts.inputShape });
    loadDarknetWeights(model, weights);
    return new Detector(model, opts);
  }

  /** Detects objects in one image. */
  async detect(image: ImageInput, opts: DetectOptions = {}): Promise<Detection[]> {
    return (await this.detectBatch([image], opts))[0];
  }

  /**
   * Detects objects in many images, `batchSize` at a time through the network (default 8).
   *
   * @example
   * const perImage = await detector.detectBatch(['a.jpg', 'b.jpg'], { confidence: 0.25 });
   */
  async detectBatch(images: ImageInput[], opts: DetectOptions & { batchSize?: number } = {}): Promise<Detection[][]> {
    const o = { ...this.options, ...opts };
    const batchSize = opts.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`detectBatch: batchSize = ${batchSize} must be a positive integer`);
    const timings: DetectTimings = { preprocessMs: 0, networkMs: 0, decodeMs: 0, nmsMs: 0 };
    const inputShape = this.model.inputShape;
    const [inH, inW] = inputShape;
    const out: Detection[][] = [];
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      let t = performance.now();
      const prepared = await Promise.all(chunk.map((img) => prepareImage(img, inputShape, o.letterbox)));
      const batch = new Float32Array(chunk.length * inH * inW * 3);
      prepared.forEach((p, i) => batch.set(p.pixels, i * inH * inW * 3));
      timings.preprocessMs += performance.now() - t;

      t = performance.now();
      const levels = tf.tidy(() => this.model.predictRaw(tf.div(tf.tensor4d(batch, [chunk.length, inH, inW, 3]), 255) as tf.Tensor4D));
      const data = await Promise.all(levels.map((l) => l.data() as Promise<Float32Array>)); // the one read of the heads
      const shapes = levels.map((l) => l.shape);
      tf.dispose(levels);
      timings.networkMs += performance.now() - t;

      prepared.forEach((p, i) => {
        let t0 = performance.now();
        const rows = decodeOutputs(
          shapes.map(([, h, w, c], l) => ({ data: data[l].subarray(i * h * w * c, (i + 1) * h * w * c), height: h, width: w })),
          { inputShape, numClasses: this.model.numClasses, anchors: this.anchors, anchorsMask: this.anchorsMask, scaleXY: o.scaleXY },
        );
        timings.decodeMs += performance.now() - t0;
        t0 = performance.now();
        const raw = suppressDetections(rows, this.model.numClasses, o);
        out.push(
          raw.map((d) => ({
            box: correctBox(d.box, p.imageSize, inputShape, o.letterbox),
            score: d.score,
            classId: d.classId,
            className: this.classNames[d.classId],
          })),
        );
        timings.nmsMs += performance.now() - t0;
      });
    }
    this.lastTimings = timings;
    return out;
  }

  /** Frees the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}
