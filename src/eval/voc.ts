/**
 * VOC mAP exactly as the reference's get_map computes it (reference-spec §6.3): per class,
 * detections sorted by score, greedy matching to the best-overlapping ground truth of the same image,
 * difficult boxes neither hits nor misses, all-point interpolated AP.
 */
import { indicesByClass, sortByScoreDescending, type FlatBoxes } from './flat.js';
import type { ClassOperatingPoint, EvaluationResult, PrCurve } from './types.js';

/** Options of {@link evaluateVoc}. */
export interface VocOptions {
  numClasses: number;
  iouThreshold: number;
  plusOnePixel: boolean;
  scoreThreshold: number;
}

/**
 * Overlap of two corner boxes. With `plusOne`, corners are inclusive pixel indices (VOC devkit):
 * widths are x2 − x1 + 1. Returns −1 when the boxes do not intersect (the reference never scores them).
 */
export function vocOverlap(a: Float64Array, i: number, b: Float64Array, j: number, plusOne: boolean): number {
  const one = plusOne ? 1 : 0;
  const iw = Math.min(a[i + 2], b[j + 2]) - Math.max(a[i], b[j]) + one;
  const ih = Math.min(a[i + 3], b[j + 3]) - Math.max(a[i + 1], b[j + 1]) + one;
  if (iw <= 0 || ih <= 0) return -1;
  const inter = iw * ih;
  const areaA = (a[i + 2] - a[i] + one) * (a[i + 3] - a[i + 1] + one);
  const areaB = (b[j + 2] - b[j] + one) * (b[j + 3] - b[j + 1] + one);
  return inter / (areaA + areaB - inter);
}

/**
 * All-point interpolated AP (VOC2010+): precision made non-increasing from the right, summed over the
 * recall steps, with sentinels recall 0 → 1 and precision 0 → 0.
 *
 * @example
 * allPointAp([0.5, 1], [1, 0.5]); // 0.5·1 + 0.5·0.5 = 0.75
 */
export function allPointAp(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  const n = recall.length;
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  for (let i = 0; i < n; i++) {
    mrec[i + 1] = recall[i];
    mpre[i + 1] = precision[i];
  }
  mrec[n + 1] = 1;
  for (let i = n; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 1; i < n + 2; i++) if (mrec[i] !== mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

/** VOC evaluation of flattened inputs (validated by the caller). */
export function evaluateVoc(gt: FlatBoxes, det: FlatBoxes, numImages: number, opts: VocOptions): EvaluationResult {
  const { numClasses, iouThreshold, plusOnePixel, scoreThreshold } = opts;
  const gtByClass = indicesByClass(gt.classes, numClasses);
  const detByClass = indicesByClass(det.classes, numClasses);
  const perClass = new Array<number>(numClasses).fill(NaN);
  const groundTruthCount = new Array<number>(numClasses).fill(0);
  const curves: PrCurve[] = [];
  const atScoreThreshold: ClassOperatingPoint[] = [];
  // Ground truths of one class grouped by image: start offsets into a sorted index list.
  const firstOfImage = new Int32Array(numImages + 1);
  for (let c = 0; c < numClasses; c++) {
    const gts = gtByClass[c];
    let nGt = 0;
    for (const g of gts) if (!gt.difficult[g]) nGt++;
    groundTruthCount[c] = nGt;
    firstOfImage.fill(0);
    for (const g of gts) firstOfImage[gt.images[g] + 1]++;
    for (let i = 0; i < numImages; i++) firstOfImage[i + 1] += firstOfImage[i];
    const gtOfImage = new Int32Array(gts.length);
    const cursor = firstOfImage.slice(0, numImages);
    for (const g of gts) gtOfImage[cursor[gt.images[g]]++] = g; // input order within an image
    const used = new Uint8Array(gt.classes.length);

    const order = sortByScoreDescending(detByClass[c], det.scores);
    const nd = order.length;
    const recall = new Array<number>(nd);
    const precision = new Array<number>(nd);
    let tp = 0;
    let fp = 0;
    for (let d = 0; d < nd; d++) {
      const row = order[d];
      const img = det.images[row];
      let best = -1;
      let bestOverlap = -1;
      for (let p = firstOfImage[img]; p < firstOfImage[img + 1]; p++) {
        const g = gtOfImage[p];
        const ov = vocOverlap(det.boxes, 4 * row, gt.boxes, 4 * g, plusOnePixel);
        if (ov > bestOverlap) {
          bestOverlap = ov;
          best = g;
        }
      }
      if (bestOverlap >= iouThreshold) {
        if (!gt.difficult[best]) {
          if (!used[best]) {
            tp++;
            used[best] = 1;
          } else fp++;
        } // a difficult match is neither a hit nor a miss
      } else fp++;
      recall[d] = tp / Math.max(nGt, 1);
      precision[d] = tp / Math.max(tp + fp, 1);
    }
    curves.push({ recall, precision });
    // The reference reports P/R/F1 at the last detection scoring at least the threshold (index 0 if none).
    let at = 0;
    for (let d = 0; d < nd; d++) if (det.scores[order[d]] >= scoreThreshold) at = d;
    const p = nd > 0 ? precision[at] : 0;
    const r = nd > 0 ? recall[at] : 0;
    atScoreThreshold.push({ precision: p, recall: r, f1: p + r > 0 ? (2 * p * r) / (p + r) : 0 });
    if (nGt > 0) perClass[c] = allPointAp(recall, precision);
  }
  const evaluated = perClass.filter((ap) => !Number.isNaN(ap));
  const map = evaluated.length > 0 ? evaluated.reduce((s, ap) => s + ap, 0) / evaluated.length : NaN;
  return {
    metric: 'voc',
    map,
    perClass,
    groundTruthCount,
    detectionCount: detByClass.map((rows) => rows.length),
    curves,
    atScoreThreshold,
  };
}
