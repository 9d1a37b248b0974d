/** Running a detector over a dataset split and scoring it (reference-spec §6). */
import type { Dataset } from '../data/index.js';
import { evaluateDetections, type EvaluationResult, type GroundTruthImage, type DetectionImage } from '../eval/index.js';
import type { Detector, DetectOptions } from './detector.js';

/** Options of {@link evaluateDetector}. */
export interface EvaluateDetectorOptions extends DetectOptions {
  metric: 'voc' | 'coco';
  /** images per network call (default 8) */
  batchSize?: number;
  /** called after each batch with (images done, total) */
  onProgress?: (done: number, total: number) => void;
  /** VOC: the IoU threshold (default 0.5) */
  iouThreshold?: number;
  /** VOC: the reference's "+1 pixel" overlap (default true) */
  plusOnePixel?: boolean;
}

/**
 * Detects on every sample of `dataset` and evaluates. Defaults follow the reference's get_map:
 * confidence 0.001, NMS IoU 0.5, no letterbox, no cap on detections (COCO keeps 100 per class and image).
 *
 * @example
 * const result = await evaluateDetector(detector, await readSplit('data.yaml', 'val'), { metric: 'voc' });
 */
export async function evaluateDetector(
  detector: Detector,
  dataset: Dataset,
  opts: EvaluateDetectorOptions,
): Promise<{ result: EvaluationResult; groundTruth: GroundTruthImage[]; detections: DetectionImage[] }> {
  if (dataset.names.length !== detector.model.numClasses) {
    throw new Error(`the dataset has ${dataset.names.length} classes but the model ${detector.model.numClasses}; evaluate with the model trained on it`);
  }
  const batchSize = opts.batchSize ?? 8;
  const groundTruth: GroundTruthImage[] = [];
  const detections: DetectionImage[] = [];
  const samples = dataset.samples;
  for (let i = 0; i < samples.length; i += batchSize) {
    const chunk = samples.slice(i, i + batchSize);
    const found = await detector.detectBatch(
      chunk.map((s) => s.image),
      { confidence: 0.001, nmsIou: 0.5, ...opts, batchSize },
    );
    chunk.forEach((s, j) => {
      // COCO crowd regions are evaluated like VOC difficult boxes (ignored)
      const difficult = s.boxes.map((_, k) => Boolean(s.difficult?.[k] || s.crowd?.[k]));
      groundTruth.push({ boxes: s.boxes, classes: s.classes, difficult });
      detections.push({ boxes: found[j].map((d) => d.box), classes: found[j].map((d) => d.classId), scores: found[j].map((d) => d.score) });
    });
    opts.onProgress?.(Math.min(i + batchSize, samples.length), samples.length);
  }
  const result = await evaluateDetections({
    groundTruth,
    detections,
    numClasses: dataset.names.length,
    metric: opts.metric,
    iouThreshold: opts.iouThreshold,
    plusOnePixel: opts.plusOnePixel,
  });
  return { result, groundTruth, detections };
}
