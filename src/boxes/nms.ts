/**
 * Greedy non-maximum suppression on typed arrays (reference-spec §5.4): the torchvision semantics
 * the reference uses (suppress IoU > threshold, IoU without "+1"), per class or over all boxes.
 */

/** Options of {@link nonMaxSuppression}. */
export interface NmsOptions {
  /** boxes overlapping a kept box by more than this IoU are suppressed (default 0.3, the reference's nms_iou) */
  iouThreshold?: number;
  /**
   * `'greater'` (default, torchvision): suppress when IoU > threshold; `'notLess'`: suppress when IoU ≥ threshold
   * (the reference's NumPy/ONNX path keeps only IoU < threshold)
   */
  suppress?: 'greater' | 'notLess';
  /** keep at most this many boxes (default: all) */
  maxOutput?: number;
}

function iouAt(b: ArrayLike<number>, i: number, j: number): number {
  const p = 4 * i;
  const q = 4 * j;
  const iw = Math.min(b[p + 2], b[q + 2]) - Math.max(b[p], b[q]);
  const ih = Math.min(b[p + 3], b[q + 3]) - Math.max(b[p + 1], b[q + 1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (b[p + 2] - b[p]) * (b[p + 3] - b[p + 1]) + (b[q + 2] - b[q]) * (b[q + 3] - b[q + 1]) - inter;
  return union > 0 ? inter / union : 0;
}

function checkNms(boxes: ArrayLike<number>, scores: ArrayLike<number>, op: string, iouThreshold: number): number {
  const n = scores.length;
  if (boxes.length !== 4 * n) {
    throw new Error(`${op}: boxes has length ${boxes.length} for ${n} scores; pass 4 corners [x1, y1, x2, y2] per score`);
  }
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new Error(`${op}: iouThreshold = ${iouThreshold} must be in [0, 1]`);
  return n;
}

/**
 * Greedy NMS: visits boxes by descending score (ties in input order) and keeps a box unless it
 * overlaps an already kept box too much.
 *
 * @param boxes corners `[x1, y1, x2, y2]`, 4 per box
 * @param scores one score per box
 * @returns indices of the kept boxes, highest score first
 * @example
 * nonMaxSuppression([0, 0, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30], [0.9, 0.8, 0.7], { iouThreshold: 0.5 }); // Int32Array [0, 2]
 */
export function nonMaxSuppression(boxes: ArrayLike<number>, scores: ArrayLike<number>, opts: NmsOptions = {}): Int32Array {
  const iouThreshold = opts.iouThreshold ?? 0.3;
  const n = checkNms(boxes, scores, 'nonMaxSuppression', iouThreshold);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  return greedy(boxes, order, iouThreshold, opts.suppress ?? 'greater', opts.maxOutput ?? n);
}

function greedy(boxes: ArrayLike<number>, order: number[], threshold: number, suppress: 'greater' | 'notLess', maxOutput: number): Int32Array {
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length >= maxOutput) break;
    let keep = true;
    for (const j of kept) {
      const iou = iouAt(boxes, i, j);
      if (suppress === 'greater' ? iou > threshold : iou >= threshold) {
        keep = false;
        break;
      }
    }
    if (keep) kept.push(i);
  }
  return Int32Array.from(kept);
}

/**
 * Class-wise NMS as the reference runs it: for each class present, in ascending class id, greedy
 * NMS among that class's boxes; the kept boxes are appended class by class, each class's highest
 * score first. Boxes of different classes never suppress each other.
 *
 * @param boxes corners, 4 per box
 * @param scores one score per box
 * @param classes one class id per box
 * @returns indices of the kept boxes in the reference's output order
 * @example
 * batchedNms([0, 0, 10, 10, 0, 0, 10, 10], [0.9, 0.8], [1, 0]); // Int32Array [1, 0]: class 0 first, no suppression
 */
export function batchedNms(
  boxes: ArrayLike<number>,
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  opts: NmsOptions = {},
): Int32Array {
  const iouThreshold = opts.iouThreshold ?? 0.3;
  const n = checkNms(boxes, scores, 'batchedNms', iouThreshold);
  if (classes.length !== n) throw new Error(`batchedNms: ${classes.length} classes for ${n} scores; pass one class id per box`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(classes[i]);
    if (list) list.push(i);
    else byClass.set(classes[i], [i]);
  }
  const out: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const order = (byClass.get(c) as number[]).sort((a, b) => scores[b] - scores[a] || a - b);
    out.push(...greedy(boxes, order, iouThreshold, opts.suppress ?? 'greater', opts.maxOutput ?? n));
  }
  return Int32Array.from(out);
}
