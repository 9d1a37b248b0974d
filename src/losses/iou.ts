/**
 * The differentiable IoU family on tensors: IoU, GIoU, DIoU, CIoU and SIoU between predicted and
 * target boxes in centre form, with the reference's epsilons (reference-spec §2.5).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Which member of the IoU family. */
export type IouType = 'iou' | 'giou' | 'diou' | 'ciou' | 'siou';

/** The members of {@link IouType}, for validation and help texts. */
export const IOU_TYPES: readonly IouType[] = ['iou', 'giou', 'diou', 'ciou', 'siou'];

/** Options of {@link boxIou} and {@link iouLoss}. */
export interface BoxIouOptions {
  /** Default `'ciou'`. */
  type?: IouType;
}

// Every denominator of the reference is clamped to at least this.
const EPS = 1e-6;

function clampMin(x: tf.Tensor): tf.Tensor {
  return tf.maximum(x, EPS);
}

/**
 * The IoU-family similarity of predicted and target boxes, element-wise over rows.
 *
 * Common parts: inter = ∏ max(min(maxes) − max(mins), 0), union = w₁h₁ + w₂h₂ − inter,
 * iou = inter / max(union, 1e-6), Δ = centre₁ − centre₂, enclose = max(max(maxes) − min(mins), 0).
 * - `giou`: iou − (enclose_area − union) / max(enclose_area, 1e-6)
 * - `diou`: iou − ρ² / max(c², 1e-6), ρ² = |Δ|², c² = enclose diagonal²
 * - `ciou`: diou − α·v, v = 4/π²·(atan(w₁/max(h₁,1e-6)) − atan(w₂/max(h₂,1e-6)))², α = v / max(1 − iou + v, 1e-6)
 *   (α is not detached: gradients flow through it, as in the reference)
 * - `siou`: iou − ½(distance_cost + shape_cost), with the angle cost of SIoU (reference-spec §2.5)
 *
 * @param pred [..., 4] predicted boxes (cx, cy, w, h); gradients flow into these
 * @param target [..., 4] target boxes (cx, cy, w, h), same shape
 * @returns [...] the similarity (1 for identical boxes; ≤ 1; may be negative except for `iou`)
 * @example
 * const pred = tf.tensor2d([[5, 5, 4, 4]]);
 * const target = tf.tensor2d([[6, 5, 4, 4]]);
 * boxIou(pred, target, { type: 'ciou' }); // [0.6 − 1/41]: IoU 12/20, ρ² 1, c² 5² + 4²
 */
export function boxIou(pred: tf.Tensor, target: tf.Tensor, opts: BoxIouOptions = {}): tf.Tensor {
  const type = opts.type ?? 'ciou';
  if (!IOU_TYPES.includes(type)) {
    throw new Error(`boxIou: type = ${JSON.stringify(type)} is invalid; use one of ${IOU_TYPES.join(', ')}.`);
  }
  if (pred.rank < 1 || pred.shape[pred.rank - 1] !== 4) {
    throw new Error(`boxIou: pred has shape [${pred.shape.join(',')}]; its last axis must hold 4 values (cx, cy, w, h).`);
  }
  if (!tf.util.arraysEqual(pred.shape, target.shape)) {
    throw new Error(`boxIou: target shape [${target.shape.join(',')}] does not match pred shape [${pred.shape.join(',')}]; pass boxes of the same shape.`);
  }
  return tf.tidy(() => {
    const axis = pred.rank - 1;
    const [x1, y1, w1, h1] = tf.unstack(pred, axis);
    const [x2, y2, w2, h2] = tf.unstack(target, axis);
    const [ax1, ax2] = [tf.sub(x1, tf.div(w1, 2)), tf.add(x1, tf.div(w1, 2))];
    const [ay1, ay2] = [tf.sub(y1, tf.div(h1, 2)), tf.add(y1, tf.div(h1, 2))];
    const [bx1, bx2] = [tf.sub(x2, tf.div(w2, 2)), tf.add(x2, tf.div(w2, 2))];
    const [by1, by2] = [tf.sub(y2, tf.div(h2, 2)), tf.add(y2, tf.div(h2, 2))];
    const interW = tf.maximum(tf.sub(tf.minimum(ax2, bx2), tf.maximum(ax1, bx1)), 0);
    const interH = tf.maximum(tf.sub(tf.minimum(ay2, by2), tf.maximum(ay1, by1)), 0);
    const inter = tf.mul(interW, interH);
    const union = tf.sub(tf.add(tf.mul(w1, h1), tf.mul(w2, h2)), inter);
    const iou = tf.div(inter, clampMin(union));
    if (type === 'iou') return iou;

    const encloseW = tf.maximum(tf.sub(tf.maximum(ax2, bx2), tf.minimum(ax1, bx1)), 0);
    const encloseH = tf.maximum(tf.sub(tf.maximum(ay2, by2), tf.minimum(ay1, by1)), 0);
    if (type === 'giou') {
      const encloseArea = tf.mul(encloseW, encloseH);
      return tf.sub(iou, tf.div(tf.sub(encloseArea, union), clampMin(encloseArea)));
    }

    const dx = tf.sub(x1, x2);
    const dy = tf.sub(y1, y2);
    if (type === 'siou') return siou(iou, dx, dy, encloseW, encloseH, w1, h1, w2, h2);

    const rho2 = tf.add(tf.square(dx), tf.square(dy));
    const c2 = tf.add(tf.square(encloseW), tf.square(encloseH));
    const diou = tf.sub(iou, tf.div(rho2, clampMin(c2)));
    if (type === 'diou') return diou;

    // ciou: aspect-ratio consistency v and its trade-off weight α
    const v = tf.mul(4 / (Math.PI * Math.PI), tf.square(tf.sub(tf.atan(tf.div(w1, clampMin(h1))), tf.atan(tf.div(w2, clampMin(h2))))));
    const alpha = tf.div(v, clampMin(tf.add(tf.sub(1, iou), v)));
    return tf.sub(diou, tf.mul(alpha, v));
  });
}

// SIoU: angle cost → distance cost, plus shape cost (reference-spec §2.5).
function siou(
  iou: tf.Tensor, dx: tf.Tensor, dy: tf.Tensor, encloseW: tf.Tensor, encloseH: tf.Tensor,
  w1: tf.Tensor, h1: tf.Tensor, w2: tf.Tensor, h2: tf.Tensor,
): tf.Tensor {
  const sigma = clampMin(tf.sqrt(tf.add(tf.square(dx), tf.square(dy))));
  const s1 = tf.clipByValue(tf.div(tf.abs(dx), sigma), 0, 1);
  const s2 = tf.clipByValue(tf.div(tf.abs(dy), sigma), 0, 1);
  // s = s₂ where s₁ > √2/2 else s₁; a 0/1 step (no gradient through the comparison, as torch.where)
  const useS2 = tf.step(tf.sub(s1, Math.SQRT1_2), 0);
  const s = tf.add(tf.mul(useS2, s2), tf.mul(tf.sub(1, useS2), s1));
  const angleCost = tf.cos(tf.sub(tf.mul(tf.asin(s), 2), Math.PI / 2));
  const gamma = tf.sub(2, angleCost);
  const rhoX = tf.square(tf.div(dx, clampMin(encloseW)));
  const rhoY = tf.square(tf.div(dy, clampMin(encloseH)));
  const distanceCost = tf.sub(tf.sub(2, tf.exp(tf.neg(tf.mul(gamma, rhoX)))), tf.exp(tf.neg(tf.mul(gamma, rhoY))));
  const omegaW = tf.div(tf.abs(tf.sub(w1, w2)), clampMin(tf.maximum(w1, w2)));
  const omegaH = tf.div(tf.abs(tf.sub(h1, h2)), clampMin(tf.maximum(h1, h2)));
  const fourth = (omega: tf.Tensor) => tf.square(tf.square(tf.sub(1, tf.exp(tf.neg(omega)))));
  const shapeCost = tf.add(fourth(omegaW), fourth(omegaH));
  return tf.sub(iou, tf.mul(0.5, tf.add(distanceCost, shapeCost)));
}

/**
 * The box regression loss 1 − {@link boxIou}, averaged over rows (the YOLO box loss before its ratio).
 *
 * @param pred [..., 4] predicted boxes (cx, cy, w, h)
 * @param target [..., 4] target boxes (cx, cy, w, h)
 * @returns scalar mean of 1 − IoU-family similarity
 * @example
 * iouLoss(tf.tensor2d([[5, 5, 4, 4]]), tf.tensor2d([[5, 5, 4, 4]]), { type: 'giou' }); // 0
 */
export function iouLoss(pred: tf.Tensor, target: tf.Tensor, opts: BoxIouOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sub(1, boxIou(pred, target, opts))) as tf.Scalar);
}
