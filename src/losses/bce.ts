/**
 * Binary cross-entropy on probabilities, clipped exactly as the reference YOLO code does
 * (`p ← clamp(p, 1e-7, 1 − 1e-7)`, so the gradient is zero where p is clipped).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkLabelSmoothing, checkReduction, checkSameShape, reduceLoss, smoothBinary, toFloat,
  type LossOptions, type TensorInput,
} from './options.js';

/** The clipping bound of the probability-space losses (the reference's epsilon). */
export const PROBABILITY_EPSILON = 1e-7;

/** Elementwise −y·ln p̂ − (1 − y)·ln(1 − p̂) with p̂ = clip(p, ε, 1 − ε); y already smoothed. */
export function clippedBce(y: tf.Tensor, p: tf.Tensor): tf.Tensor {
  const pc = tf.clipByValue(p, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
  return tf.neg(tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc)))));
}

/**
 * Binary cross-entropy from probabilities: `−y·ln p̂ − (1 − y)·ln(1 − p̂)`, p̂ = clip(p, 1e-7, 1 − 1e-7).
 *
 * This is the reference YOLOv4 code's BCE (objectness and class losses). Prefer logits and
 * `tf.losses.sigmoidCrossEntropy` (or `sigmoidFocalLoss` with `gamma: 0, alpha: null`) when you have
 * them: the clip caps the loss at 16.12 and gives no gradient to the most wrong predictions.
 *
 * @param labels targets in [0, 1], any shape (bool and int are cast).
 * @param probs probabilities in [0, 1], the same shape.
 * @param opts `reduction` (default `'mean'`; `'none'` returns the elementwise tensor), `weights`
 *   (e.g. an ignore mask; weight-0 elements count in no denominator), `normalizer`, `labelSmoothing`.
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { binaryCrossEntropy } from 'focal-yolo';
 * const y = tf.tensor1d([1, 0, 1]);
 * const p = tf.tensor1d([0.9, 0.2, 1]);
 * binaryCrossEntropy(y, p).print();                       // mean ≈ 0.1095
 * binaryCrossEntropy(y, p, { reduction: 'none', weights: tf.tensor1d([1, 1, 0]) }).print();
 * ```
 */
export function binaryCrossEntropy(labels: TensorInput, probs: TensorInput, opts: LossOptions = {}): tf.Tensor {
  const op = 'binaryCrossEntropy';
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const p = toFloat(probs, 'probs', op);
    const y = toFloat(labels, 'labels', op);
    checkSameShape(y, p, ['labels', 'probs'], op);
    return reduceLoss(clippedBce(smoothBinary(y, eps), p), opts, op);
  });
}
