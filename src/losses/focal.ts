/**
 * Sigmoid focal loss (Lin et al. 2017) in two forms:
 * - `sigmoidFocalLoss`: from logits, stable everywhere, with an exact hand-written gradient;
 * - `binaryFocalLoss`: from probabilities, clipped as the reference YOLOv4 code computes it.
 *
 * Notation: x logit, p = σ(x), q = σ(−x) = 1 − p, y label in [0, 1],
 * m = 1 − p_t = y·q + (1 − y)·p, α_t = α·y + (1 − α)·(1 − y), CE = softplus(x) − y·x.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clippedBce } from './bce.js';
import { fusedFocalAvailable, fusedSigmoidFocal } from './focal-kernel.js';
import {
  alphaT, checkGamma, checkLabelSmoothing, checkReduction, checkSameShape, directReductionScale, reduceLoss, resolveAlpha,
  smoothBinary, toFloat, type FocalOptions, type TensorInput,
} from './options.js';

/** Default α and γ of the paper (and torchvision). */
export const DEFAULT_ALPHA = 0.25;
export const DEFAULT_GAMMA = 2;

/**
 * CE(x, y) = y·softplus(−x) + (1 − y)·softplus(x) = softplus(x) − y·x, written without the
 * subtraction so that it is exact for hard labels at any |x| (the wasm backend's `log1p` is
 * log(1 + u) in float32, so the usual relu/log1p form loses CE < 1e-7 there).
 * `negX` = −x and `oneMinusY` = 1 − y may be passed when the caller has them.
 */
export function logitBce(x: tf.Tensor, y: tf.Tensor, negX = tf.neg(x), oneMinusY = tf.sub(1, y)): tf.Tensor {
  return tf.add(tf.mul(y, tf.softplus(negX)), tf.mul(oneMinusY, tf.softplus(x)));
}

/** α as the fused kernel takes it: a length-1 or per-class tensor, or undefined for none. */
function kernelAlpha(alpha: number | tf.Tensor1D | null): tf.Tensor | undefined {
  return alpha === null ? undefined : typeof alpha === 'number' ? tf.tensor1d([alpha]) : alpha;
}

/** Whether a gradient tape is recording (the fused kernel then also computes the gradient). */
function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * Elementwise α_t·m^γ·CE(x, y) with the analytic gradient with respect to x:
 * dL/dx = α_t·m^γ·[(p − y) + γ·CE·(1 − 2y)·p·q/m], where p − y = p·(1 − y) − y·q and p·q/m stays
 * finite (it tends to p_t as m → 0), so the gradient is exact for every γ ≥ 0 even where σ saturates.
 * On cpu and wasm one fused pass computes both (focal-kernel.ts); elsewhere tfjs ops do.
 * Labels and α get no gradient (they are constants of the loss).
 */
export function sigmoidFocalElementwise(x: tf.Tensor, y: tf.Tensor, alpha: number | tf.Tensor1D | null, gamma: number): tf.Tensor {
  const focal = tf.customGrad((logits, save) => {
    const xs = logits as tf.Tensor;
    const fused = fusedSigmoidFocal(xs, y, kernelAlpha(alpha), gamma, recordingGradients());
    if (fused !== undefined) {
      if (fused.length > 1) (save as tf.GradSaveFunc)([fused[1]]);
      return { value: fused[0], gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0])] };
    }
    const at = alphaT(alpha, y);
    const negX = tf.neg(xs);
    const p = tf.sigmoid(xs);
    const q = tf.sigmoid(negX);
    const oneMinusY = tf.sub(1, y);
    const m = tf.add(tf.mul(y, q), tf.mul(oneMinusY, p)); // 1 − p_t, never negative
    const ce = logitBce(xs, y, negX, oneMinusY);
    const modulator = gamma === 0 ? undefined : tf.pow(m, gamma);
    let value = modulator === undefined ? ce : tf.mul(modulator, ce);
    if (at !== undefined) value = tf.mul(at, value);
    (save as tf.GradSaveFunc)([p, q, m, ce, y, oneMinusY, ...(modulator ? [modulator] : []), ...(at ? [at] : [])]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sp, sq, sm, sce, sy, s1y] = saved;
        const rest = saved.slice(6);
        const sMod = modulator === undefined ? undefined : rest.shift();
        const sAt = at === undefined ? undefined : rest.shift();
        let g = tf.sub(tf.mul(sp, s1y), tf.mul(sy, sq)); // p − y
        if (gamma !== 0) {
          const r = tf.divNoNan(tf.mul(sp, sq), sm); // p(1 − p)/m, bounded
          g = tf.add(g, tf.mul(tf.mul(sce, gamma), tf.mul(tf.sub(s1y, sy), r)));
          g = tf.mul(g, sMod as tf.Tensor);
        }
        if (sAt !== undefined) g = tf.mul(g, sAt);
        return [tf.mul(dy, g)];
      },
    };
  });
  return focal(x);
}

/**
 * scale·Σ α_t·m^γ·CE as one scalar, loss and scaled gradient from the fused kernel in one pass
 * (no elementwise loss, no broadcast gradient); undefined where the backend has no fused kernel.
 */
function sigmoidFocalReduced(x: tf.Tensor, y: tf.Tensor, alpha: number | tf.Tensor1D | null, gamma: number, scale: number): tf.Tensor | undefined {
  if (!fusedFocalAvailable()) return undefined;
  const focal = tf.customGrad((logits, save) => {
    const [value, grad] = fusedSigmoidFocal(logits as tf.Tensor, y, kernelAlpha(alpha), gamma, recordingGradients(), scale) as tf.Tensor[];
    if (grad !== undefined) (save as tf.GradSaveFunc)([grad]);
    // dy is the upstream scalar; the common dy = 1 needs no pass over the gradient (a reshape to the
    // same shape shares the saved data instead of copying it)
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        dy.size === 1 && dy.dataSync()[0] === 1 ? tf.reshape(saved[0], saved[0].shape) : tf.mul(dy, saved[0]),
      ],
    };
  });
  return focal(x);
}

/**
 * Sigmoid focal loss from logits: `α_t · (1 − p_t)^γ · CE(σ(x), y)`.
 *
 * Numerically stable for any logit (log-sigmoid form, no `log(0)`, no clipping) with a hand-written
 * gradient that is exact for every γ ≥ 0, including 0 < γ < 1 at saturated logits where autodiff
 * gives NaN. Soft labels follow torchvision: p_t = p·y + (1 − p)(1 − y), α_t = α·y + (1 − α)(1 − y).
 * For IoU-valued soft targets prefer `qualityFocalLoss` or `varifocalLoss` (this form's minimum is
 * biased away from p = y). With `gamma: 0, alpha: null` it equals `tf.losses.sigmoidCrossEntropy` (to float32 rounding).
 *
 * @param labels targets in [0, 1] (hard 0/1 or soft), the logits' shape. No gradient flows to them.
 * @param logits raw scores x (before the sigmoid).
 * @param opts `alpha` (default 0.25; positives get α, negatives 1 − α; per-class array; `null` = off),
 *   `gamma` (default 2), `reduction` (default `'mean'`), `weights` / ignore mask, `normalizer`
 *   (e.g. #positives, clamped to ≥ 1), `labelSmoothing` (toward 0.5).
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { sigmoidFocalLoss } from 'focal-yolo';
 * const labels = tf.tensor2d([[1, 0], [0, 0]]);
 * const logits = tf.tensor2d([[2, -3], [0, 30]]);
 * // RetinaNet: sum over all anchors, divided by the number of positives
 * const loss = sigmoidFocalLoss(labels, logits, { alpha: 0.25, gamma: 2, normalizer: 1 });
 * const grad = tf.grad((x: tf.Tensor) => sigmoidFocalLoss(labels, x, { gamma: 0.5 }))(logits); // finite
 * ```
 */
export function sigmoidFocalLoss(labels: TensorInput, logits: TensorInput, opts: FocalOptions = {}): tf.Tensor {
  const op = 'sigmoidFocalLoss';
  const gamma = checkGamma(opts.gamma ?? DEFAULT_GAMMA, op);
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const x = toFloat(logits, 'logits', op);
    const y0 = toFloat(labels, 'labels', op);
    checkSameShape(y0, x, ['labels', 'logits'], op);
    const alpha = resolveAlpha(opts.alpha === undefined ? DEFAULT_ALPHA : opts.alpha, x.shape, op);
    const y = smoothBinary(y0, eps);
    const scale = directReductionScale(opts, x.size, op);
    const reduced = scale === undefined ? undefined : sigmoidFocalReduced(x, y, alpha, gamma, scale);
    return reduced ?? reduceLoss(sigmoidFocalElementwise(x, y, alpha, gamma), opts, op);
  });
}

/**
 * Binary focal loss from probabilities, exactly as the reference YOLOv4 code computes its focal
 * objectness: `BCE(p̂, y) · α_t · m^γ` with p̂ = clip(p, 1e-7, 1 − 1e-7), α_t = α for positives and
 * 1 − α for negatives, and m = 1 − p for positives, p for negatives (unclipped p). Soft labels
 * interpolate linearly (m = y·(1 − p) + (1 − y)·p), so it equals `sigmoidFocalLoss` on σ(x)
 * wherever p lies inside the clipping range.
 *
 * Outside the clip the gradient is zero (as in the reference), and for γ < 1 the derivative of m^γ
 * is infinite at p ∈ {0, 1}: use `sigmoidFocalLoss` on logits for a gradient that is always exact.
 *
 * @param labels targets in [0, 1], the probabilities' shape.
 * @param probs probabilities σ(x) in [0, 1].
 * @param opts as {@link sigmoidFocalLoss}: `alpha` (0.25), `gamma` (2), `reduction` ('mean'),
 *   `weights`, `normalizer`, `labelSmoothing`.
 * @returns a scalar, or the elementwise loss with `reduction: 'none'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { binaryFocalLoss } from 'focal-yolo';
 * const t = tf.tensor1d([1, 0, 0]);              // objectness targets
 * const conf = tf.tensor1d([0.8, 0.1, 0.6]);     // σ(t_obj)
 * const mask = tf.tensor1d([1, 1, 0]);           // 0 = ignored cell
 * const lossConf = tf.mul(10, binaryFocalLoss(t, conf, { weights: mask })); // reference: 10 · mean over M
 * ```
 */
export function binaryFocalLoss(labels: TensorInput, probs: TensorInput, opts: FocalOptions = {}): tf.Tensor {
  const op = 'binaryFocalLoss';
  const gamma = checkGamma(opts.gamma ?? DEFAULT_GAMMA, op);
  const eps = checkLabelSmoothing(opts.labelSmoothing, op);
  checkReduction(opts, op);
  return tf.tidy(() => {
    const p = toFloat(probs, 'probs', op);
    const y0 = toFloat(labels, 'labels', op);
    checkSameShape(y0, p, ['labels', 'probs'], op);
    const alpha = resolveAlpha(opts.alpha === undefined ? DEFAULT_ALPHA : opts.alpha, p.shape, op);
    const y = smoothBinary(y0, eps);
    let loss = clippedBce(y, p);
    if (gamma !== 0) {
      const m = tf.add(tf.mul(y, tf.sub(1, p)), tf.mul(tf.sub(1, y), p));
      loss = tf.mul(loss, tf.pow(m, gamma));
    }
    const at = alphaT(alpha, y);
    if (at !== undefined) loss = tf.mul(at, loss);
    return reduceLoss(loss, opts, op);
  });
}
