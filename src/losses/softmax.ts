/**
 * Multi-class (softmax) focal loss: `−Σ_c α_c · y_c · (1 − p_c)^γ · log p_c` over the last axis,
 * with p = softmax(x), one-hot or soft labels, and an exact hand-written gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_GAMMA } from './focal.js';
import {
  checkGamma, checkLabelSmoothing, checkReduction, checkSameShape, reduceLoss, resolveAlpha, toFloat,
  type FocalOptions, type TensorInput,
} from './options.js';

/**
 * Row losses −Σ_c ay_c·u_c^γ·l_c (l = log p ≤ 0, u = 1 − p = −expm1(l)) and their gradient
 * dL/dx_j = p_j·W − w_j with w_c = ay_c·u_c^γ·(1 − γ·p_c·l_c/u_c), W = Σ_c w_c. The ratio l/u tends
 * to −1 as p_c → 1, so the gradient is finite for every γ ≥ 0. `ay` = α_c·y_c.
 */
function softmaxFocalRows(x: tf.Tensor, ay: tf.Tensor, gamma: number): tf.Tensor {
  const focal = tf.customGrad((logits, save) => {
    const l = tf.minimum(tf.logSoftmax(logits as tf.Tensor), 0); // log p, rounding kept ≤ 0
    const u = tf.neg(tf.expm1(l)); // 1 − p without cancellation
    const modulated = gamma === 0 ? ay : tf.mul(ay, tf.pow(u, gamma));
    const value = tf.neg(tf.sum(tf.mul(modulated, l), -1)); // [...]
    (save as tf.GradSaveFunc)([l, u, modulated]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sl, su, sMod] = saved;
        const p = tf.exp(sl);
        let w = sMod;
        if (gamma !== 0) {
          const ratio = tf.where(tf.greater(su, 0), tf.divNoNan(sl, su), tf.fill(su.shape, -1));
          w = tf.mul(sMod, tf.sub(1, tf.mul(gamma, tf.mul(p, ratio))));
        }
        const total = tf.sum(w, -1, true); // [..., 1]
        return [tf.mul(tf.expandDims(dy, -1), tf.sub(tf.mul(p, total), w))];
      },
    };
  });
  return focal(x);
}

/**
 * The labels as class distributions `[..., C]`: given as such (same shape as the logits), or as
 * class indices `[...]` (one-hot encoded here; a negative index marks an ignored row, returned as a
 * 0/1 `valid` weight).
 */
function classLabels(labels: TensorInput, x: tf.Tensor, op: string): { labels: tf.Tensor; valid?: tf.Tensor } {
  const raw = labels instanceof tf.Tensor ? labels : toFloat(labels, 'labels', op);
  if (raw.rank !== x.rank - 1) {
    const y = toFloat(raw, 'labels', op);
    checkSameShape(y, x, ['labels', 'logits'], op);
    return { labels: y };
  }
  const rows = x.shape.slice(0, -1);
  if (!tf.util.arraysEqual(raw.shape, rows)) {
    throw new Error(`${op}: class-index labels shape [${raw.shape.join(',')}] does not match the logits' rows [${rows.join(',')}]; pass indices of shape [${rows.join(',')}] or one-hot labels of shape [${x.shape.join(',')}].`);
  }
  const classes = x.shape[x.rank - 1];
  const ids = raw.dataSync();
  for (let i = 0; i < ids.length; i++) {
    const c = Number(ids[i]);
    if (!Number.isInteger(c) || c >= classes) {
      throw new Error(`${op}: class index ${ids[i]} at row ${i} is invalid; use 0 … ${classes - 1}, or a negative index to ignore the row.`);
    }
  }
  const index = tf.cast(raw, 'int32');
  const valid = tf.cast(tf.greaterEqual(index, 0), 'float32');
  const oneHot = tf.cast(tf.oneHot(tf.maximum(index, tf.scalar(0, 'int32')), classes), 'float32');
  return { labels: tf.mul(oneHot, tf.expandDims(valid, -1)), valid };
}

/**
 * Softmax focal loss for single-label multi-class problems: `−Σ_c α_c · y_c · (1 − p_c)^γ · log p_c`
 * with p = softmax(logits) over the last axis.
 *
 * Stable for any logits (log-softmax, `1 − p` as −expm1(log p)) with a hand-written gradient that
 * is exact for every γ ≥ 0. With γ = 0 and no α it equals `tf.losses.softmaxCrossEntropy`.
 *
 * @param labels one-hot or soft class distributions, the logits' shape `[..., C]`; or class indices
 *   `[...]` (integers 0 … C − 1, negative = ignored row, counted in no denominator).
 * @param logits raw class scores `[..., C]`. No gradient flows to the labels.
 * @param opts `alpha`: a per-class array of C weights α_c, a number (a plain scale on every class),
 *   or `null` (default, no weighting); `gamma` (default 2); `labelSmoothing` ε (y·(1 − ε) + ε/C);
 *   `weights` broadcastable to `[...]` (one per row, e.g. an ignore mask); `reduction` (default
 *   `'mean'` over rows); `normalizer`.
 * @returns a scalar, or the per-row loss `[...]` with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { softmaxFocalLoss } from 'focal-yolo';
 * const labels = tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3);
 * const logits = tf.tensor2d([[0.1, 0.2, 3], [1, -1, 0]]);
 * const loss = softmaxFocalLoss(labels, logits, { gamma: 2, alpha: [0.25, 0.5, 0.5] });
 * ```
 */
export function softmaxFocalLoss(labels: TensorInput, logits: TensorInput, opts: FocalOptions = {}): tf.Tensor {
  const op = 'softmaxFocalLoss';
  const gamma = checkGamma(opts.gamma ?? DEFAULT_GAMMA, op);
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const x = toFloat(logits, 'logits', op);
    if (x.rank < 1) throw new Error(`${op}: logits must have a class axis (rank ≥ 1), got a scalar; pass shape [..., C].`);
    const classes = x.shape[x.rank - 1];
    const { labels: y0, valid } = classLabels(labels, x, op);
    const alpha = resolveAlpha(opts.alpha === undefined ? null : opts.alpha, x.shape, op);
    const y = eps === 0 ? y0 : tf.add(tf.mul(y0, 1 - eps), eps / classes);
    const ay = alpha === null ? y : tf.mul(alpha, y);
    // ignored rows (class index < 0) are weight 0: in no denominator
    const weights = valid === undefined ? opts.weights : opts.weights === undefined ? valid : tf.mul(valid, toFloat(opts.weights, 'weights', op));
    return reduceLoss(softmaxFocalRows(x, ay, gamma), { ...opts, weights }, op);
  });
}
