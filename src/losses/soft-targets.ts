/**
 * Focal losses for soft (IoU-valued) targets and the Poly-1 focal loss:
 * - Quality Focal Loss (GFL, Li et al. 2020): CE(x, y)·|y − σ(x)|^β;
 * - Varifocal Loss (VarifocalNet, Zhang et al. 2021): y·CE(x, y) for y > 0, α·σ(x)^γ·CE(x, 0) for y = 0;
 * - Poly-1 focal loss (PolyLoss, Leng et al. 2022): FL + ε·(1 − p_t)^(γ+1).
 * Unlike `sigmoidFocalLoss` on soft labels, QFL and VFL are minimal at σ(x) = y.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_ALPHA, DEFAULT_GAMMA, logitBce, sigmoidFocalElementwise } from './focal.js';
import {
  checkGamma, checkLabelSmoothing, checkReduction, checkSameShape, reduceLoss, resolveAlpha,
  smoothBinary, toFloat, type FocalOptions, type LossOptions, type TensorInput,
} from './options.js';

/** Options of {@link qualityFocalLoss}. */
export interface QualityFocalOptions extends LossOptions {
  /** Exponent β on |y − σ(x)|: 0, or ≥ 1 (for 0 < β < 1 the derivative is infinite at σ(x) = y). Default 2. */
  beta?: number;
}

/** Options of {@link varifocalLoss}. */
export interface VarifocalOptions extends LossOptions {
  /** Weight of the negatives (y = 0), in [0, 1]. Default 0.75. */
  alpha?: number;
  /** Exponent on σ(x) for the negatives, ≥ 0. Default 2. */
  gamma?: number;
  /** Weight positives by their target q (VarifocalNet's default); `false` weights them by 1. */
  iouWeighted?: boolean;
}

/** Options of {@link polyFocalLoss}. */
export interface PolyFocalOptions extends FocalOptions {
  /** Poly-1 coefficient ε ≥ −1 on (1 − p_t)^(γ+1). Default 1. */
  epsilon?: number;
}

/** Converts and checks the common (labels, logits) pair. */
function inputs(labels: TensorInput, logits: TensorInput, op: string): { x: tf.Tensor; y: tf.Tensor } {
  const x = toFloat(logits, 'logits', op);
  const y = toFloat(labels, 'labels', op);
  checkSameShape(y, x, ['labels', 'logits'], op);
  return { x, y };
}

/**
 * Quality Focal Loss: `CE(σ(x), y) · |y − σ(x)|^β` for IoU-valued targets y in [0, 1] (0 for
 * negatives). Its minimum over x is 0 at σ(x) = y, so soft objectness targets are not biased.
 *
 * @param labels quality targets in [0, 1] (e.g. the IoU of the predicted box at positives, 0 elsewhere).
 * @param logits raw scores, the same shape.
 * @param opts `beta` (default 2), `reduction` ('mean'), `weights`, `normalizer` (GFL divides by the
 *   number of positives), `labelSmoothing`.
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { qualityFocalLoss } from 'focal-yolo';
 * const iou = tf.tensor1d([0.83, 0, 0]);
 * const logits = tf.tensor1d([1.2, -4, 0.5]);
 * const loss = qualityFocalLoss(iou, logits, { beta: 2, reduction: 'sum', normalizer: 1 });
 * ```
 */
export function qualityFocalLoss(labels: TensorInput, logits: TensorInput, opts: QualityFocalOptions = {}): tf.Tensor {
  const op = 'qualityFocalLoss';
  const beta = checkGamma(opts.beta ?? 2, op, 'beta');
  if (beta > 0 && beta < 1) throw new Error(`${op}: beta = ${beta} has an infinite derivative at σ(x) = y; use 0 or β ≥ 1 (e.g. 2).`);
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const { x, y: y0 } = inputs(labels, logits, op);
    const y = smoothBinary(y0, eps);
    const negX = tf.neg(x);
    const oneMinusY = tf.sub(1, y);
    let loss = logitBce(x, y, negX, oneMinusY);
    if (beta !== 0) {
      // y − σ(x) = y·σ(−x) − (1 − y)·σ(x): exact for hard labels where σ saturates
      const distance = tf.abs(tf.sub(tf.mul(y, tf.sigmoid(negX)), tf.mul(oneMinusY, tf.sigmoid(x))));
      loss = tf.mul(loss, beta === 1 ? distance : tf.pow(distance, beta));
    }
    return reduceLoss(loss, opts, op);
  });
}

/**
 * Varifocal Loss: `q · CE(σ(x), q)` where the target q > 0 (positives, q = IoU), and
 * `α · σ(x)^γ · CE(σ(x), 0)` where q = 0 (negatives): only negatives are down-weighted.
 *
 * @param labels IoU-aware targets q in [0, 1], 0 for negatives.
 * @param logits raw scores, the same shape.
 * @param opts `alpha` (negatives' weight, default 0.75), `gamma` (2), `iouWeighted` (true),
 *   `reduction` ('mean'), `weights`, `normalizer` (VarifocalNet: the number of positives).
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { varifocalLoss } from 'focal-yolo';
 * const q = tf.tensor1d([0.7, 0, 0]);
 * const loss = varifocalLoss(q, tf.tensor1d([0.4, -3, 2]), { reduction: 'sum' });
 * ```
 */
export function varifocalLoss(labels: TensorInput, logits: TensorInput, opts: VarifocalOptions = {}): tf.Tensor {
  const op = 'varifocalLoss';
  const gamma = checkGamma(opts.gamma ?? 2, op);
  const alpha = opts.alpha ?? 0.75;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 1) {
    throw new Error(`${op}: alpha = ${JSON.stringify(opts.alpha)} is invalid; use a number in [0, 1] (the negatives' weight, e.g. 0.75).`);
  }
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const { x, y: y0 } = inputs(labels, logits, op);
    const y = smoothBinary(y0, eps);
    const ce = logitBce(x, y);
    // σ(x)^γ as exp(−γ·softplus(−x)) = exp(γ·logσ(x)): no pow(0, γ < 1), finite gradient everywhere
    const negative = tf.mul(alpha, gamma === 0 ? tf.onesLike(x) : tf.exp(tf.mul(-gamma, tf.softplus(tf.neg(x)))));
    const positive = opts.iouWeighted === false ? tf.onesLike(y) : y;
    const weight = tf.where(tf.greater(y0, 0), positive, negative);
    return reduceLoss(tf.mul(weight, ce), opts, op);
  });
}

/**
 * Poly-1 focal loss: `FL(x, y) + ε · (1 − p_t)^(γ+1)`, with FL = {@link sigmoidFocalLoss}'s elementwise
 * loss (same α, γ, soft-label and stability rules). ε > 0 raises the gradient on hard examples.
 *
 * @param labels targets in [0, 1], the logits' shape.
 * @param logits raw scores.
 * @param opts the {@link sigmoidFocalLoss} options plus `epsilon` (default 1, ≥ −1).
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { polyFocalLoss } from 'focal-yolo';
 * const loss = polyFocalLoss(tf.tensor1d([1, 0]), tf.tensor1d([0.3, -1]), { epsilon: 1, gamma: 2 });
 * ```
 */
export function polyFocalLoss(labels: TensorInput, logits: TensorInput, opts: PolyFocalOptions = {}): tf.Tensor {
  const op = 'polyFocalLoss';
  const gamma = checkGamma(opts.gamma ?? DEFAULT_GAMMA, op);
  const epsilon = opts.epsilon ?? 1;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < -1) {
    throw new Error(`${op}: epsilon = ${String(opts.epsilon)} is invalid; use a number ≥ −1 (e.g. 1).`);
  }
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const { x, y: y0 } = inputs(labels, logits, op);
    const alpha = resolveAlpha(opts.alpha === undefined ? DEFAULT_ALPHA : opts.alpha, x.shape, op);
    const y = smoothBinary(y0, eps);
    const focal = sigmoidFocalElementwise(x, y, alpha, gamma);
    // 1 − p_t = y·σ(−x) + (1 − y)·σ(x) ≥ 0; the exponent γ + 1 ≥ 1 keeps autodiff finite
    const m = tf.add(tf.mul(y, tf.sigmoid(tf.neg(x))), tf.mul(tf.sub(1, y), tf.sigmoid(x)));
    return reduceLoss(tf.add(focal, tf.mul(epsilon, tf.pow(m, gamma + 1))), opts, op);
  });
}
