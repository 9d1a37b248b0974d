/** Shapes shared by the VOC and COCO evaluators. Boxes are `[x1, y1, x2, y2]` in pixels. */

/** The ground truth of one image. */
export interface GroundTruthImage {
  /** corner boxes `[x1, y1, x2, y2]`, pixels */
  boxes: number[][];
  /** class index of each box, 0 … numClasses−1 */
  classes: number[];
  /** VOC "difficult" flags: neither a hit nor a miss (COCO treats them as crowd regions) */
  difficult?: boolean[];
}

/** The detections of one image. */
export interface DetectionImage {
  /** corner boxes `[x1, y1, x2, y2]`, pixels */
  boxes: number[][];
  /** class index of each box */
  classes: number[];
  /** confidence of each box (higher = more confident) */
  scores: number[];
}

/** Options of {@link evaluateDetections}. */
export interface EvaluateOptions {
  /** ground truth, one entry per image */
  groundTruth: GroundTruthImage[];
  /** detections, one entry per image, same order and length as `groundTruth` */
  detections: DetectionImage[];
  /** number of classes */
  numClasses: number;
  /** `'voc'`: VOC mAP at one IoU threshold as the reference's get_map; `'coco'`: pycocotools' bbox mAP@[.5:.95] */
  metric: 'voc' | 'coco';
  /** VOC only: the IoU a detection needs to hit a ground truth (default 0.5, the reference's MINOVERLAP) */
  iouThreshold?: number;
  /** VOC only: the "+1 pixel" overlap of the reference (inclusive integer corners); default true */
  plusOnePixel?: boolean;
  /** VOC only: score at which precision, recall and F1 are reported (default 0.5, the reference's score_threhold) */
  scoreThreshold?: number;
  /** COCO only: detections kept per image and class (default 100) */
  maxDetections?: number;
}

/** A precision/recall curve of one class. */
export interface PrCurve {
  /** recall at each point, non-decreasing */
  recall: number[];
  /** precision at each point */
  precision: number[];
}

/** The COCO summary (pycocotools' 12 `stats`); −1 where pycocotools prints −1 (no ground truth in that range). */
export interface CocoSummary {
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
  /** per-class AP at IoU 0.5 (101-point), NaN for classes without ground truth */
  perClassAp50: number[];
}

/** Precision, recall and F1 of one class at the VOC score threshold. */
export interface ClassOperatingPoint {
  precision: number;
  recall: number;
  f1: number;
}

/** What {@link evaluateDetections} returns. */
export interface EvaluationResult {
  metric: 'voc' | 'coco';
  /** VOC: mean AP over classes with ground truth; COCO: AP@[.5:.95]. NaN when no class has ground truth */
  map: number;
  /** AP of each class; NaN for a class without (non-difficult) ground truth, which `map` leaves out */
  perClass: number[];
  /** ground-truth boxes per class that count (non-difficult / non-crowd) */
  groundTruthCount: number[];
  /** detections per class */
  detectionCount: number[];
  /** VOC: the cumulative PR points of each class; COCO: the 101-point interpolated curve at IoU 0.5 */
  curves: PrCurve[];
  /** COCO only: the summary numbers */
  coco?: CocoSummary;
  /** VOC only: precision, recall and F1 of each class at `scoreThreshold` */
  atScoreThreshold?: ClassOperatingPoint[];
}
