/**
 * Keras-style `(yTrue, yPred) => loss` factories, so a `tf.LayersModel` can `compile` with the focal
 * losses. Note the argument order: tfjs and Keras put the labels first (torch puts the input first).
 */
import * as tf from '@tensorflow/tfjs-core';
import { binaryFocalLoss, sigmoidFocalLoss } from './focal.js';
import type { FocalOptions, TensorInput } from './options.js';
import { softmaxFocalLoss } from './softmax.js';
import { PROBABILITY_EPSILON } from './bce.js';

/** A loss function as `LayersModel.compile({ loss })` takes it. */
export type KerasLossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** Options of the Keras-style factories: the focal options plus the required input kind. */
export interface KerasFocalOptions extends FocalOptions {
  /**
   * `true` when the model outputs logits (no final sigmoid/softmax), `false` for probabilities.
   * Required: a wrong default is a classic silent bug (probabilities activated twice).
   */
  fromLogits: boolean;
}

function checkFromLogits(opts: KerasFocalOptions | undefined, name: string): void {
  if (opts === undefined || typeof opts.fromLogits !== 'boolean') {
    throw new Error(`${name}: fromLogits = ${String(opts?.fromLogits)}; say what the model outputs with fromLogits: true (logits) or false (probabilities).`);
  }
}

/**
 * Wraps any `(labels, predictions, opts)` loss of this library as a Keras loss function.
 *
 * @example
 * ```ts
 * import { kerasLoss, qualityFocalLoss } from 'focal-yolo';
 * model.compile({ optimizer: 'adam', loss: kerasLoss(qualityFocalLoss, { beta: 2 }) });
 * ```
 */
export function kerasLoss<O>(loss: (labels: TensorInput, predictions: TensorInput, opts?: O) => tf.Tensor, opts?: O): KerasLossFunction {
  return (yTrue, yPred) => loss(yTrue, yPred, opts);
}

/**
 * Keras `BinaryFocalCrossentropy` for `LayersModel.compile`: {@link sigmoidFocalLoss} on logits
 * (`fromLogits: true`) or the reference's probability form {@link binaryFocalLoss}. Unlike Keras,
 * α is applied whenever it is not `null` (default 0.25, positives get α).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { binaryFocalCrossentropy } from 'focal-yolo';
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [4] })] });
 * model.compile({ optimizer: 'adam', loss: binaryFocalCrossentropy({ fromLogits: true, gamma: 2 }) });
 * ```
 */
export function binaryFocalCrossentropy(opts: KerasFocalOptions): KerasLossFunction {
  checkFromLogits(opts, 'binaryFocalCrossentropy');
  const { fromLogits, ...focal } = opts;
  return fromLogits ? kerasLoss(sigmoidFocalLoss, focal) : kerasLoss(binaryFocalLoss, focal);
}

/**
 * Keras `CategoricalFocalCrossentropy` for `LayersModel.compile`: {@link softmaxFocalLoss} on logits,
 * or on probabilities (`fromLogits: false`: log of the probabilities clipped at 1e-7, which softmax
 * renormalises, as Keras does).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { categoricalFocalCrossentropy } from 'focal-yolo';
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
 * model.compile({ optimizer: 'adam', loss: categoricalFocalCrossentropy({ fromLogits: false, alpha: [0.25, 0.5, 0.25] }) });
 * ```
 */
export function categoricalFocalCrossentropy(opts: KerasFocalOptions): KerasLossFunction {
  checkFromLogits(opts, 'categoricalFocalCrossentropy');
  const { fromLogits, ...focal } = opts;
  if (fromLogits) return kerasLoss(softmaxFocalLoss, focal);
  return (yTrue, yPred) => tf.tidy(() => softmaxFocalLoss(yTrue, tf.log(tf.clipByValue(yPred, PROBABILITY_EPSILON, 1)), focal));
}
