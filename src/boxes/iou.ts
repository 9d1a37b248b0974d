/**
 * Intersection over union on plain numbers and typed arrays (no tensors, no gradient): the IoU of two
 * boxes, IoU matrices between two sets, and the shape IoU used to match boxes to anchors.
 */

/** How a box is written in a flat row of 4. */
export type BoxFormat = 'xyxy' | 'cxcywh';

/**
 * IoU of two corner boxes `[x1, y1, x2, y2]`, without epsilon (as the reference's `calculate_iou`).
 * Boxes that do not overlap give 0; two empty boxes (union 0) give 0 rather than 0/0.
 *
 * @example
 * iouCorners(0, 0, 2, 2, 1, 1, 3, 3); // 1 / 7
 */
export function iouCorners(
  ax1: number, ay1: number, ax2: number, ay2: number,
  bx1: number, by1: number, bx2: number, by2: number,
): number {
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * IoU of two box shapes (w, h) placed on the same centre: min(w₁,w₂)·min(h₁,h₂) / union.
 * This is how ground truths are matched to anchors.
 *
 * @example
 * shapeIou(10, 20, 20, 10); // 100 / 300
 */
export function shapeIou(w1: number, h1: number, w2: number, h2: number): number {
  const inter = Math.max(0, Math.min(w1, w2)) * Math.max(0, Math.min(h1, h2));
  const union = w1 * h1 + w2 * h2 - inter;
  return union > 0 ? inter / union : 0;
}

function checkRows(boxes: ArrayLike<number>, name: string, op: string, width: number): number {
  if (boxes.length % width !== 0) {
    throw new Error(`${op}: ${name} has length ${boxes.length}, not a multiple of ${width}; pass flat rows of ${width} numbers.`);
  }
  return boxes.length / width;
}

/**
 * IoU between every box of `a` (n rows of 4) and every box of `b` (m rows of 4).
 *
 * @param a flat rows of 4 in `format`, length 4·n
 * @param b flat rows of 4 in `format`, length 4·m
 * @param format `'xyxy'` (default) or `'cxcywh'`
 * @returns Float32Array [n, m] row-major: entry i·m + j is IoU(a_i, b_j)
 * @example
 * iouMatrix([0, 0, 2, 2], [1, 1, 3, 3, 0, 0, 2, 2]); // Float32Array [1/7, 1]
 */
export function iouMatrix(a: ArrayLike<number>, b: ArrayLike<number>, format: BoxFormat = 'xyxy'): Float32Array {
  const n = checkRows(a, 'a', 'iouMatrix', 4);
  const m = checkRows(b, 'b', 'iouMatrix', 4);
  if (format !== 'xyxy' && format !== 'cxcywh') {
    throw new Error(`iouMatrix: format = ${JSON.stringify(format)} is invalid; use 'xyxy' or 'cxcywh'.`);
  }
  const ca = format === 'xyxy' ? a : toCorners(a);
  const cb = format === 'xyxy' ? b : toCorners(b);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    const p = 4 * i;
    for (let j = 0; j < m; j++) {
      const q = 4 * j;
      out[i * m + j] = iouCorners(ca[p], ca[p + 1], ca[p + 2], ca[p + 3], cb[q], cb[q + 1], cb[q + 2], cb[q + 3]);
    }
  }
  return out;
}

/**
 * Shape IoU between every (w, h) of `a` (n rows of 2) and every (w, h) of `b` (m rows of 2).
 *
 * @returns Float32Array [n, m] row-major
 * @example
 * shapeIouMatrix([10, 20], [10, 20, 20, 10]); // Float32Array [1, 1/3]
 */
export function shapeIouMatrix(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const n = checkRows(a, 'a', 'shapeIouMatrix', 2);
  const m = checkRows(b, 'b', 'shapeIouMatrix', 2);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) out[i * m + j] = shapeIou(a[2 * i], a[2 * i + 1], b[2 * j], b[2 * j + 1]);
  }
  return out;
}

// Kept in double precision: the corners feed comparisons, not storage.
function toCorners(boxes: ArrayLike<number>): Float64Array {
  const out = new Float64Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    const hw = boxes[i + 2] / 2;
    const hh = boxes[i + 3] / 2;
    out[i] = boxes[i] - hw;
    out[i + 1] = boxes[i + 1] - hh;
    out[i + 2] = boxes[i] + hw;
    out[i + 3] = boxes[i + 1] + hh;
  }
  return out;
}
