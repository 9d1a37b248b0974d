/**
 * Validation during training: the loss with the model in eval mode (BatchNorm running statistics),
 * and on evaluation epochs the mAP@0.5 of the detections (reference-spec §4.8: letterboxed images,
 * confidence 0.05, NMS IoU 0.5, at most 100 boxes per image), all from one forward pass per batch.
 *
 * Boxes are compared in network-input pixels of the letterboxed images. IoU does not change under
 * the letterbox's uniform scale and shift, so this equals the reference's evaluation in original
 * pixels up to its "+1 pixel" convention.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataLoader } from '../data/index.js';
import { evaluateDetections, type DetectionImage, type GroundTruthImage } from '../eval/index.js';
import type { Yolo } from '../models/index.js';
import { assignTargets, bestAnchors, decodeOutputs, ignoreMask, suppressDetections, type AssignOptions, type YoloLoss } from '../yolo/index.js';
import { addHistograms, histogram, LossMeter, type Histogram, type LossSummary } from './history.js';

/** The reference EvalCallback's settings (§4.8). */
export const EVAL_SETTINGS = { confidence: 0.05, nmsIou: 0.5, maxDetections: 100 } as const;

/** Options of {@link validate}. */
export interface ValidateOptions {
  /** Compute mAP@0.5 with this metric (VOC all-point AP or COCO AP50); omit for the loss only. */
  metric?: 'voc' | 'coco';
  /** Also collect the p_t histograms of the objectness. */
  pt?: boolean;
}

/** What {@link validate} returns. */
export interface ValidationResult {
  loss: LossSummary;
  /** mAP@0.5 (VOC, or COCO's AP50), null when not asked. */
  map: number | null;
  /** COCO mAP@[.5:.95], when the metric is COCO. */
  mapCoco: number | null;
  pt: { positives: Histogram; negatives: Histogram } | null;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * p_t of the objectness over one batch: σ(obj) at the positive cells, 1 − σ(obj) at the negative
 * cells the loss uses (not ignored), from the loss's own assignment functions.
 */
export function objectnessPt(values: Float32Array[], shapes: number[][], targets: readonly Float32Array[], opts: AssignOptions): { positives: Histogram; negatives: Histogram } {
  const anchorOf = bestAnchors(targets, opts);
  const D = 5 + opts.numClasses;
  const pos: number[] = [];
  const neg: number[] = [];
  values.forEach((raw, l) => {
    const grid: [number, number] = [shapes[l][1], shapes[l][2]];
    const positive = new Uint8Array(raw.length / D);
    for (const c of assignTargets(targets, l, grid, opts, anchorOf).cell) positive[c] = 1;
    const ignored = ignoreMask(raw, targets, l, grid, opts);
    for (let c = 0; c < positive.length; c++) {
      const p = sigmoid(raw[c * D + 4]);
      if (positive[c]) pos.push(p);
      else if (!ignored[c]) neg.push(1 - p);
    }
  });
  return { positives: histogram(pos), negatives: histogram(neg) };
}

/**
 * Runs the model in eval mode over every batch of `loader` (epoch `epoch`): mean loss parts, and mAP
 * and p_t histograms when asked.
 *
 * @example
 * ```ts
 * const r = await validate(model, valLoader, yoloLoss, 0, { metric: 'voc' });
 * console.log(r.loss.loss, r.map);
 * ```
 */
export async function validate(model: Yolo, loader: DataLoader, yoloLoss: YoloLoss, epoch: number, opts: ValidateOptions = {}): Promise<ValidationResult> {
  const meter = new LossMeter();
  const o = yoloLoss.options;
  const [inH, inW] = o.inputShape;
  const groundTruth: GroundTruthImage[] = [];
  const detections: DetectionImage[] = [];
  let pt: ValidationResult['pt'] = null;
  for await (const batch of loader.epoch(epoch)) {
    const raws = tf.tidy(() => model.predictRaw(tf.tensor4d(batch.images, batch.shape), false));
    try {
      const { loss, parts } = yoloLoss.total(raws, batch.targets);
      meter.add(loss.dataSync()[0], parts);
      loss.dispose();
      if (opts.metric === undefined && !opts.pt) continue;
      const values = raws.map((r) => r.dataSync() as Float32Array);
      const shapes = raws.map((r) => r.shape);
      if (opts.pt) {
        const h = objectnessPt(values, shapes, batch.targets, o);
        pt = pt === null ? h : { positives: addHistograms(pt.positives, h.positives), negatives: addHistograms(pt.negatives, h.negatives) };
      }
      if (opts.metric === undefined) continue;
      batch.targets.forEach((rows, i) => {
        const levels = shapes.map(([, h, w, c], l) => ({ data: values[l].subarray(i * h * w * c, (i + 1) * h * w * c), height: h, width: w }));
        const found = suppressDetections(decodeOutputs(levels, o), o.numClasses, EVAL_SETTINGS);
        detections.push({
          boxes: found.map((d) => [d.box[0] * inW, d.box[1] * inH, d.box[2] * inW, d.box[3] * inH]),
          classes: found.map((d) => d.classId),
          scores: found.map((d) => d.score),
        });
        const boxes: number[][] = [];
        const classes: number[] = [];
        for (let r = 0; r < rows.length; r += 5) {
          const [cx, cy, w, h] = [rows[r] * inW, rows[r + 1] * inH, rows[r + 2] * inW, rows[r + 3] * inH];
          boxes.push([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]);
          classes.push(rows[r + 4]);
        }
        groundTruth.push({ boxes, classes });
      });
    } finally {
      tf.dispose(raws);
    }
  }
  let map: number | null = null;
  let mapCoco: number | null = null;
  if (opts.metric !== undefined) {
    const result = await evaluateDetections({ groundTruth, detections, numClasses: o.numClasses, metric: opts.metric });
    if (opts.metric === 'coco') {
      map = result.coco?.ap50 ?? NaN;
      mapCoco = result.map;
    } else {
      map = result.map;
    }
  }
  return { loss: meter.mean(), map, mapCoco, pt };
}
