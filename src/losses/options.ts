/**
 * Options shared by every loss in `losses/`: input conversion and checks, α, γ, label smoothing,
 * weights (ignore masks) and the reduction with an optional normaliser.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A tensor or anything `tf.tensor()` accepts (nested arrays, typed arrays). */
export type TensorInput = tf.Tensor | tf.TensorLike;

/**
 * How an elementwise loss becomes the result.
 * - `'none'`: the elementwise (weighted) loss, same shape as the labels.
 * - `'sum'`: Σ w·L.
 * - `'mean'`: Σ w·L / Σ w (the element count without weights), so elements with weight 0 count in
 *   no denominator.
 * - `tf.Reduction.NONE | SUM | MEAN` mean the same as the strings;
 *   `tf.Reduction.SUM_BY_NONZERO_WEIGHTS` is Σ w·L / #(w ≠ 0), as in `tf.losses`.
 */
export type LossReduction = 'none' | 'sum' | 'mean' | tf.Reduction;

/** Options every loss accepts. */
export interface LossOptions {
  /** Default `'mean'`. See {@link LossReduction}. */
  reduction?: LossReduction;
  /**
   * Elementwise weights broadcastable to the labels' shape (e.g. a 0/1 ignore mask, or a per-class
   * vector of length C). Weight-0 elements count in no denominator.
   */
  weights?: TensorInput;
  /**
   * Divides the summed loss instead of the mean's denominator (RetinaNet: the number of positives),
   * clamped to ≥ 1. With `'none'` it divides every element. A number or a scalar tensor.
   */
  normalizer?: number | tf.Scalar;
  /** Label smoothing ε in [0, 1): binary labels become y·(1 − ε) + ε/2 (K classes: + ε/K). */
  labelSmoothing?: number;
}

/** Options of the focal losses (`sigmoidFocalLoss`, `binaryFocalLoss`, `softmaxFocalLoss`, …). */
export interface FocalOptions extends LossOptions {
  /**
   * Class balance: positives get α and negatives 1 − α (α = 0.25 *down*-weights positives, as in the
   * paper). A number in [0, 1], a per-class array (one entry per element of the last axis), or
   * `null` for no balancing. Default 0.25.
   */
  alpha?: number | number[] | null;
  /** Focusing parameter γ ≥ 0 (0 gives α-balanced cross-entropy). Default 2. */
  gamma?: number;
}

/** Converts an input to a float32 tensor (labels may be bool or int). */
export function toFloat(x: TensorInput, name: string, op: string): tf.Tensor {
  if (x instanceof tf.Tensor) return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  try {
    return tf.tensor(x, undefined, 'float32');
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`${op}: ${name} is not a tensor or nested number array (${why}); pass a tf.Tensor.`);
  }
}

/** Throws unless `a` and `b` have the same shape. */
export function checkSameShape(a: tf.Tensor, b: tf.Tensor, names: [string, string], op: string): void {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(
      `${op}: ${names[0]} shape [${a.shape.join(',')}] does not match ${names[1]} shape [${b.shape.join(',')}]; pass tensors of the same shape.`,
    );
  }
}

/** Throws unless γ is a finite number ≥ 0. */
export function checkGamma(gamma: number, op: string, name = 'gamma'): number {
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma < 0) {
    throw new Error(`${op}: ${name} = ${String(gamma)} is invalid; use a finite number ≥ 0 (e.g. 2).`);
  }
  return gamma;
}

/** Throws unless ε is in [0, 1). */
export function checkLabelSmoothing(eps: number | undefined, op: string): number {
  const e = eps ?? 0;
  if (typeof e !== 'number' || !Number.isFinite(e) || e < 0 || e >= 1) {
    throw new Error(`${op}: labelSmoothing = ${String(eps)} is invalid; use a number in [0, 1) (e.g. 0 or 0.1).`);
  }
  return e;
}

/**
 * Validates α and returns it as `null`, a number, or a [C] tensor matching the last axis of `shape`.
 */
export function resolveAlpha(alpha: unknown, shape: number[], op: string): number | tf.Tensor1D | null {
  if (alpha === null) return null;
  const bad = (what: string) =>
    new Error(`${op}: alpha = ${JSON.stringify(alpha)} is invalid (${what}); use a number in [0, 1], an array of them (one per class), or null to disable balancing.`);
  if (typeof alpha === 'number') {
    if (!Number.isFinite(alpha) || alpha < 0 || alpha > 1) throw bad('outside [0, 1]');
    return alpha;
  }
  if (Array.isArray(alpha)) {
    if (alpha.some((a) => typeof a !== 'number' || !Number.isFinite(a) || a < 0 || a > 1)) throw bad('an entry outside [0, 1]');
    const classes = shape.length > 0 ? shape[shape.length - 1] : 1;
    if (alpha.length !== classes) throw bad(`${alpha.length} entries for ${classes} classes on the last axis`);
    return tf.tensor1d(alpha as number[], 'float32');
  }
  throw bad('not a number, array or null');
}

/** α_t = α·y + (1 − α)·(1 − y); `null` α gives undefined (no factor). */
export function alphaT(alpha: number | tf.Tensor1D | null, y: tf.Tensor): tf.Tensor | undefined {
  if (alpha === null) return undefined;
  // α·y + (1 − α)(1 − y) = (1 − α) + (2α − 1)·y
  if (typeof alpha === 'number') return tf.add(1 - alpha, tf.mul(2 * alpha - 1, y));
  return tf.add(tf.sub(1, alpha), tf.mul(tf.sub(tf.mul(2, alpha), 1), y));
}

/** Binary label smoothing toward 0.5: y·(1 − ε) + ε/2 (as `tf.losses.sigmoidCrossEntropy`). */
export function smoothBinary(y: tf.Tensor, eps: number): tf.Tensor {
  return eps === 0 ? y : tf.add(tf.mul(y, 1 - eps), eps / 2);
}

function reductionName(r: LossReduction | undefined, op: string): 'none' | 'sum' | 'mean' | 'nonzero' {
  switch (r) {
    case undefined:
    case 'mean':
    case tf.Reduction.MEAN:
      return 'mean';
    case 'sum':
    case tf.Reduction.SUM:
      return 'sum';
    case 'none':
    case tf.Reduction.NONE:
      return 'none';
    case tf.Reduction.SUM_BY_NONZERO_WEIGHTS:
      return 'nonzero';
    default:
      throw new Error(`${op}: reduction = ${JSON.stringify(r)} is invalid; use 'none', 'sum', 'mean' or a tf.Reduction value.`);
  }
}

/**
 * When the reduction is one scale factor on Σ L (no weights; 'sum', 'mean' or a number normaliser),
 * returns that factor so a fused kernel can reduce in place; otherwise undefined.
 */
export function directReductionScale(opts: LossOptions, size: number, op: string): number | undefined {
  const kind = reductionName(opts.reduction, op);
  if (opts.weights !== undefined || kind === 'none' || opts.normalizer instanceof tf.Tensor) return undefined;
  if (opts.normalizer !== undefined) return 1 / Math.max(1, opts.normalizer);
  return kind === 'sum' ? 1 : 1 / Math.max(1, size);
}

/** Validates the options of {@link reduceLoss} up front (before any tensor work). */
export function checkReduction(opts: LossOptions, op: string): void {
  reductionName(opts.reduction, op);
  const n = opts.normalizer;
  if (n !== undefined && !(n instanceof tf.Tensor)) {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      throw new Error(`${op}: normalizer = ${String(n)} is invalid; use a finite number ≥ 0 (e.g. the number of positives) or a scalar tensor.`);
    }
  }
  if (n instanceof tf.Tensor && n.size !== 1) {
    throw new Error(`${op}: normalizer has shape [${n.shape.join(',')}]; pass a scalar tensor or a number.`);
  }
}

let warnedHalfPrecision = false;

/**
 * Warns once when the backend computes in float16 (tfjs WebGL on devices without float32 render
 * targets): σ saturates at |x| ≈ 8.3 there and probability-space clipping at 1e-7 does nothing.
 */
function warnIfHalfPrecision(op: string): void {
  if (warnedHalfPrecision) return;
  if (tf.backend().floatPrecision() === 16) {
    warnedHalfPrecision = true;
    console.warn(`${op}: the '${tf.getBackend()}' backend computes in float16 on this device; focal losses lose precision (σ saturates at |x| ≈ 8.3). Use logits with sigmoidFocalLoss, or a float32 backend (wasm, cpu).`);
  }
}

/**
 * Σ t with less float32 rounding: large tensors are summed as [n/d, d] rows, then the row sums
 * (wasm accumulates a flat sum in float32: 5e-4 relative error measured over 1e6 focal terms).
 */
export function accurateSum(t: tf.Tensor): tf.Tensor {
  const n = t.size;
  if (n < 1 << 16) return tf.sum(t);
  for (let d = Math.floor(Math.sqrt(n)); d >= 64; d--) {
    if (n % d === 0) return tf.sum(tf.sum(tf.reshape(t, [n / d, d]), 1));
  }
  return tf.sum(t);
}

/**
 * Applies weights, the reduction and the normaliser to an elementwise loss (see {@link LossOptions}).
 * `op` names the caller in error messages.
 */
export function reduceLoss(loss: tf.Tensor, opts: LossOptions, op: string): tf.Tensor {
  const kind = reductionName(opts.reduction, op);
  warnIfHalfPrecision(op);
  let w: tf.Tensor | undefined;
  if (opts.weights !== undefined) {
    const raw = toFloat(opts.weights, 'weights', op);
    let shape: number[];
    try {
      shape = tf.broadcast_util.assertAndGetBroadcastShape(raw.shape, loss.shape);
    } catch {
      shape = [];
    }
    if (!tf.util.arraysEqual(shape, loss.shape)) {
      throw new Error(`${op}: weights shape [${raw.shape.join(',')}] does not broadcast to the loss shape [${loss.shape.join(',')}]; pass weights of that shape or one that broadcasts to it.`);
    }
    w = tf.util.arraysEqual(raw.shape, loss.shape) ? raw : tf.broadcastTo(raw, loss.shape);
  }
  const weighted = w === undefined ? loss : tf.mul(loss, w);
  let normalizer: tf.Tensor | undefined;
  if (opts.normalizer !== undefined) {
    normalizer = opts.normalizer instanceof tf.Tensor
      ? tf.maximum(tf.reshape(tf.cast(opts.normalizer, 'float32'), []), 1)
      : tf.scalar(Math.max(1, opts.normalizer));
  }
  if (kind === 'none') return normalizer === undefined ? weighted : tf.div(weighted, normalizer);
  const total = accurateSum(weighted);
  if (normalizer !== undefined) return tf.div(total, normalizer);
  if (kind === 'sum') return total;
  if (w === undefined) return tf.div(total, Math.max(1, loss.size));
  const denominator = kind === 'mean' ? accurateSum(w) : accurateSum(tf.cast(tf.notEqual(w, 0), 'float32'));
  // Everything ignored: the loss is 0, not 0/0.
  return tf.divNoNan(total, denominator);
}
