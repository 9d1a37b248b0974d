/**
 * Fused training ops of the `torch` backend (native/fused.cc): convolution + BatchNorm with batch
 * statistics + activation as one forward and one backward kernel, and Mish. The model reaches them
 * through {@link convBatchNormActivation} and {@link mish}, which use them when the active backend
 * has the kernels and otherwise return `undefined` / compose tfjs ops, so every other backend keeps
 * its composed path. Gradients come from `tf.customGrad`, so tfjs's global gradient table is untouched.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAttrs } from './torch-addon.js';
import type { TorchBackend } from './torch-backend.js';
import { input } from './torch-kernels.js';

/** tfjs kernel names of the fused ops (registered for the `torch` backend only). */
export const FUSED_KERNEL_NAMES = {
  convBatchNorm: 'FyConvBnAct',
  convBatchNormGrad: 'FyConvBnActGrad',
  mish: 'FyMish',
  mishGrad: 'FyMishGrad',
} as const;

type FusedKernel = (b: TorchBackend, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown>) => tf.TensorInfo[];

function inputList(inputs: tf.NamedTensorInfoMap, names: string[], kernel: string): tf.TensorInfo[] {
  return names.map((n) => input(inputs, n, kernel));
}

/** The fused kernels, by tfjs kernel name: the inputs and attributes pass through to the addon. */
export const FUSED_KERNELS: Readonly<Record<string, FusedKernel>> = {
  [FUSED_KERNEL_NAMES.convBatchNorm]: (b, inputs, attrs) =>
    b.run(FUSED_KERNEL_NAMES.convBatchNorm,
      inputList(inputs, ['x', 'filter', 'gamma', 'beta', 'movingMean', 'movingVariance'], FUSED_KERNEL_NAMES.convBatchNorm),
      attrs as NativeAttrs),
  [FUSED_KERNEL_NAMES.convBatchNormGrad]: (b, inputs, attrs) =>
    b.run(FUSED_KERNEL_NAMES.convBatchNormGrad,
      inputList(inputs, ['dy', 'x', 'filter', 'gamma', 'y', 'mean', 'invStd', 'saved'], FUSED_KERNEL_NAMES.convBatchNormGrad),
      attrs as NativeAttrs),
  [FUSED_KERNEL_NAMES.mish]: (b, inputs) => b.run(FUSED_KERNEL_NAMES.mish, inputList(inputs, ['x'], FUSED_KERNEL_NAMES.mish)),
  [FUSED_KERNEL_NAMES.mishGrad]: (b, inputs) =>
    b.run(FUSED_KERNEL_NAMES.mishGrad, inputList(inputs, ['dy', 'x'], FUSED_KERNEL_NAMES.mishGrad)),
};

/** True when the active backend has `kernel` and `FOCAL_YOLO_FUSED=0` (composed ops, for comparisons) is not set. */
function backendHas(kernel: string): boolean {
  return process.env.FOCAL_YOLO_FUSED !== '0' && tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/** Activations the fused convolution applies after BatchNorm. */
export type FusedActivation = 'linear' | 'leaky' | 'mish';

/** Parameters of {@link convBatchNormActivation}. */
export interface ConvBatchNormArgs {
  /** NHWC input. */
  x: tf.Tensor4D;
  /** Filter [kh, kw, in, out]. */
  filter: tf.Tensor4D;
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  /** Running statistics; assigned their updated values (PyTorch's rule, unbiased variance). */
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
  stride: number;
  /** Symmetric zero padding on each side. */
  pad: number;
  activation: FusedActivation;
  /** LeakyReLU negative slope. */
  alpha: number;
  epsilon: number;
  /** PyTorch's convention: running = (1 − momentum)·running + momentum·batch. */
  momentum: number;
  /** False when nothing upstream of `x` needs a gradient (the network's input): dx is not computed. */
  inputGradient: boolean;
}

/**
 * conv(x, filter) → BatchNorm with the batch's statistics → activation, as one native forward kernel
 * and one native backward kernel on the torch backend; updates the running statistics. Returns
 * `undefined` when the active backend has no fused kernel (the caller composes tfjs ops instead).
 *
 * @example
 * ```ts
 * const y = convBatchNormActivation({
 *   x, filter, gamma, beta, movingMean, movingVariance, stride: 1, pad: 1, activation: 'leaky',
 *   alpha: 0.1, epsilon: 1e-5, momentum: 0.1, inputGradient: true,
 * }) ?? composedLayer(x);
 * ```
 */
export function convBatchNormActivation(args: ConvBatchNormArgs): tf.Tensor4D | undefined {
  if (!backendHas(FUSED_KERNEL_NAMES.convBatchNorm)) return undefined;
  const { x, filter, gamma, beta, movingMean, movingVariance, activation } = args;
  const attrs = {
    strides: [args.stride, args.stride], pads: [args.pad, args.pad, args.pad, args.pad], activation,
    alpha: args.alpha, epsilon: args.epsilon, momentum: args.momentum,
  };
  const run = (x: tf.Tensor4D, filter: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D,
    save: tf.GradSaveFunc): { value: tf.Tensor4D; gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => tf.Tensor[] } => {
    const outs = tf.engine().runKernel(FUSED_KERNEL_NAMES.convBatchNorm,
      { x, filter, gamma, beta, movingMean, movingVariance } as unknown as tf.NamedTensorMap,
      attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    const [out, y, mean, invStd, weight, newMean, newVariance] = outs;
    movingMean.assign(newMean);
    movingVariance.assign(newVariance);
    // Leaky's gradient reads the output's sign; Mish's reads the pre-activation.
    save([x, weight, gamma, y, mean, invStd, activation === 'mish' ? outs[7] : out]);
    return {
      value: out as tf.Tensor4D,
      gradFunc: (dy, saved) => {
        const [sx, sw, sg, sy, smean, sinv, sact] = saved;
        return tf.engine().runKernel(FUSED_KERNEL_NAMES.convBatchNormGrad,
          { dy, x: sx, filter: sw, gamma: sg, y: sy, mean: smean, invStd: sinv, saved: sact } as unknown as tf.NamedTensorMap,
          { ...attrs, needDx: args.inputGradient } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  };
  if (args.inputGradient) {
    return tf.customGrad((x, f, g, b, save) =>
      run(x as tf.Tensor4D, f as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, save as tf.GradSaveFunc))(x, filter, gamma, beta) as tf.Tensor4D;
  }
  // The input needs no gradient: it is not an input of the taped op, so none is computed for it.
  return tf.customGrad((f, g, b, save) =>
    run(x, f as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, save as tf.GradSaveFunc))(filter, gamma, beta) as tf.Tensor4D;
}

/**
 * Mish, x·tanh(softplus(x)): one native kernel (and one for its gradient) on the torch backend,
 * composed from tfjs ops elsewhere.
 *
 * @example
 * ```ts
 * mish(tf.tensor1d([-1, 0, 1])).print(); // [-0.3034, 0, 0.8651]
 * ```
 */
export function mish<T extends tf.Tensor>(x: T): T {
  if (!backendHas(FUSED_KERNEL_NAMES.mish)) return tf.mul(x, tf.tanh(tf.softplus(x)));
  return tf.customGrad((input, save) => {
    (save as tf.GradSaveFunc)([input as tf.Tensor]);
    return {
      value: (tf.engine().runKernel(FUSED_KERNEL_NAMES.mish, { x: input } as unknown as tf.NamedTensorMap) as tf.Tensor[])[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        (tf.engine().runKernel(FUSED_KERNEL_NAMES.mishGrad, { dy, x: saved[0] } as unknown as tf.NamedTensorMap) as tf.Tensor[])[0],
    };
  })(x) as T;
}
