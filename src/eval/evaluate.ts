/** `evaluateDetections`: VOC or COCO mAP of any detector's output, independent of a model. */
import { evaluateCoco } from './coco.js';
import { flattenDetections, flattenGroundTruth } from './flat.js';
import type { EvaluateOptions, EvaluationResult } from './types.js';
import { evaluateVoc } from './voc.js';

/**
 * Scores detections against ground truth.
 *
 * - `metric: 'voc'`: the reference's get_map (reference-spec §6.3): one IoU threshold (default 0.5)
 *   with the "+1 pixel" overlap, difficult boxes ignored, all-point interpolated AP, mAP = mean over
 *   classes that have non-difficult ground truth.
 * - `metric: 'coco'`: pycocotools' bbox evaluation: AP averaged over IoU 0.50:0.05:0.95 and 101 recall
 *   points, at most 100 detections per image and class, plus AP50, AP75, small/medium/large and AR.
 *
 * Classes without ground truth get `NaN` in `perClass` and are left out of `map`.
 *
 * @example
 * ```ts
 * const result = await evaluateDetections({
 *   groundTruth: [{ boxes: [[10, 10, 50, 50]], classes: [0] }],
 *   detections: [{ boxes: [[12, 10, 50, 52]], classes: [0], scores: [0.9] }],
 *   numClasses: 1,
 *   metric: 'voc',
 * });
 * console.log(result.map); // 1
 * ```
 */
export async function evaluateDetections(opts: EvaluateOptions): Promise<EvaluationResult> {
  return evaluateDetectionsSync(opts);
}

/** The synchronous form of {@link evaluateDetections}. */
export function evaluateDetectionsSync(opts: EvaluateOptions): EvaluationResult {
  if (opts === null || typeof opts !== 'object') {
    throw new Error('evaluateDetections: pass { groundTruth, detections, numClasses, metric }');
  }
  const { groundTruth, detections, numClasses, metric } = opts;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`evaluateDetections: numClasses = ${String(numClasses)} must be a positive integer`);
  }
  if (metric !== 'voc' && metric !== 'coco') {
    throw new Error(`evaluateDetections: metric = ${JSON.stringify(metric)} is unknown; use 'voc' or 'coco'`);
  }
  if (!Array.isArray(groundTruth) || !Array.isArray(detections)) {
    throw new Error('evaluateDetections: groundTruth and detections must be arrays with one entry per image');
  }
  if (groundTruth.length !== detections.length) {
    throw new Error(
      `evaluateDetections: groundTruth has ${groundTruth.length} images but detections has ${detections.length}; give one entry per image in both (empty lists for none)`,
    );
  }
  const iouThreshold = opts.iouThreshold ?? 0.5;
  if (!(iouThreshold > 0 && iouThreshold <= 1)) {
    throw new Error(`evaluateDetections: iouThreshold = ${iouThreshold} must be in (0, 1]`);
  }
  const maxDetections = opts.maxDetections ?? 100;
  if (!Number.isInteger(maxDetections) || maxDetections < 10) {
    throw new Error(`evaluateDetections: maxDetections = ${maxDetections} must be an integer ≥ 10 (COCO also reports 1 and 10)`);
  }
  const gt = flattenGroundTruth(groundTruth, numClasses);
  const det = flattenDetections(detections, numClasses);
  if (metric === 'coco') return evaluateCoco(gt, det, groundTruth.length, numClasses, maxDetections);
  return evaluateVoc(gt, det, groundTruth.length, {
    numClasses,
    iouThreshold,
    plusOnePixel: opts.plusOnePixel ?? true,
    scoreThreshold: opts.scoreThreshold ?? 0.5,
  });
}
