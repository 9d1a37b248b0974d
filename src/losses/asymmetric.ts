/**
 * Asymmetric Loss (ASL, Ridnik et al. 2021) for multi-label classification: separate focusing for
 * positives and negatives, and a probability margin that discards very easy negatives.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkGamma, checkLabelSmoothing, checkReduction, checkSameShape, reduceLoss, smoothBinary, toFloat,
  type LossOptions, type TensorInput,
} from './options.js';

/**
 * b^γ for b ≥ 0 and γ > 0 with the one-sided derivative γ·b^(γ−1) taken as 0 at b = 0 (where p_m is
 * clipped to 0 its gradient is 0 anyway; autodiff would give ∞·0 = NaN for γ < 1).
 */
function powerFromZero(base: tf.Tensor, gamma: number): tf.Tensor {
  const power = tf.customGrad((b, save) => {
    (save as tf.GradSaveFunc)([b as tf.Tensor]);
    return {
      value: tf.pow(b as tf.Tensor, gamma),
      gradFunc: (dy: tf.Tensor, [sb]: tf.Tensor[]) => {
        const positive = tf.greater(sb, 0);
        const slope = tf.mul(gamma, tf.pow(tf.where(positive, sb, tf.onesLike(sb)), gamma - 1));
        return [tf.mul(dy, tf.where(positive, slope, tf.zerosLike(sb)))];
      },
    };
  });
  return power(base);
}

/** Options of {@link asymmetricLoss}. */
export interface AsymmetricOptions extends LossOptions {
  /** Focusing exponent γ+ ≥ 0 for positives. Default 0 (the paper's choice). */
  gammaPositive?: number;
  /** Focusing exponent γ− ≥ 0 for negatives. Default 4. */
  gammaNegative?: number;
  /** Probability margin m in [0, 1) shifted off the negatives: p_m = max(p − m, 0). Default 0.05. */
  clip?: number;
}

/**
 * Asymmetric loss from logits: `y·(1 − p)^γ+·(−log p) + (1 − y)·p_m^γ−·(−log(1 − p_m))` with
 * p = σ(x) and p_m = max(p − m, 0). Log terms come from softplus, so any logit is safe, and the
 * gradient is finite for every γ ≥ 0 (zero where p_m = 0).
 *
 * @param labels multi-label targets in [0, 1], the logits' shape.
 * @param logits raw scores.
 * @param opts `gammaPositive` (0), `gammaNegative` (4), `clip` (0.05), `reduction` ('mean'),
 *   `weights`, `normalizer`, `labelSmoothing`.
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { asymmetricLoss } from 'focal-yolo';
 * const labels = tf.tensor2d([[1, 0, 0, 1]]);
 * const logits = tf.tensor2d([[2, -1, 0.5, -3]]);
 * const loss = asymmetricLoss(labels, logits, { gammaNegative: 4, clip: 0.05, reduction: 'sum' });
 * ```
 */
export function asymmetricLoss(labels: TensorInput, logits: TensorInput, opts: AsymmetricOptions = {}): tf.Tensor {
  const op = 'asymmetricLoss';
  const gammaPositive = checkGamma(opts.gammaPositive ?? 0, op, 'gammaPositive');
  const gammaNegative = checkGamma(opts.gammaNegative ?? 4, op, 'gammaNegative');
  const clip = opts.clip ?? 0.05;
  if (typeof clip !== 'number' || !Number.isFinite(clip) || clip < 0 || clip >= 1) {
    throw new Error(`${op}: clip = ${String(opts.clip)} is invalid; use a probability margin in [0, 1) (e.g. 0.05, or 0 for none).`);
  }
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const x = toFloat(logits, 'logits', op);
    const y0 = toFloat(labels, 'labels', op);
    checkSameShape(y0, x, ['labels', 'logits'], op);
    const y = smoothBinary(y0, eps);
    const negX = tf.neg(x);
    // positives: (1 − p)^γ+ = exp(−γ+·softplus(x)), −log p = softplus(−x) (tf.logSigmoid's gradient
    // reads its input after a tidy may have freed it, so softplus is used directly)
    let positive = tf.softplus(negX);
    if (gammaPositive !== 0) positive = tf.mul(tf.exp(tf.mul(-gammaPositive, tf.softplus(x))), positive);
    // negatives: 1 − p_m = min(σ(−x) + m, 1); with m = 0 it is σ(−x) and −log(1 − p) = softplus(x)
    let negative: tf.Tensor;
    let pm: tf.Tensor;
    if (clip === 0) {
      negative = tf.softplus(x);
      pm = tf.sigmoid(x);
    } else {
      negative = tf.neg(tf.log(tf.minimum(tf.add(tf.sigmoid(negX), clip), 1)));
      pm = tf.relu(tf.sub(tf.sigmoid(x), clip)); // accurate for small p, unlike 1 − (1 − p_m)
    }
    if (gammaNegative !== 0) negative = tf.mul(powerFromZero(pm, gammaNegative), negative);
    const loss = tf.add(tf.mul(y, positive), tf.mul(tf.sub(1, y), negative));
    return reduceLoss(loss, opts, op);
  });
}
