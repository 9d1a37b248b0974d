/**
 * Gradient accumulation (Darknet's `subdivisions`): a batch is split into mini-batches whose
 * gradients are combined before one optimizer step, so a large batch fits in little memory
 * (the wasm backend is limited to 4 GiB).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link accumulateGradients}. */
export interface AccumulateOptions {
  /** Images in the whole batch. */
  batchSize: number;
  /** Mini-batches to split it into (1 = no accumulation); at most `batchSize`. */
  subdivisions: number;
  /**
   * The loss of the mini-batch of images `[start, end)`. Called once per mini-batch inside a
   * gradient scope; tensors it creates are disposed after its gradient is taken.
   */
  lossFn: (start: number, end: number) => tf.Scalar;
  /**
   * How the mini-batch gradients combine. `'mean'` (default) weights each by its share of the
   * batch (size / batchSize): for a loss that is a mean over images this reproduces the gradient of
   * the whole batch. `'sum'` adds them, for a loss that is a sum over images.
   */
  reduce?: 'mean' | 'sum';
  /** Variables to differentiate; default: every trainable variable. */
  varList?: tf.Variable[];
}

/** The combined loss (same weighting as the gradients) and the gradient per variable name. */
export interface AccumulatedGradients {
  loss: number;
  grads: tf.NamedTensorMap;
}

/**
 * The `[start, end)` image ranges of `subdivisions` mini-batches covering `batchSize` images,
 * as even as possible (the first ones take the remainder).
 *
 * @example
 * ```ts
 * splitBatch(10, 3); // [[0, 4], [4, 7], [7, 10]]
 * ```
 */
export function splitBatch(batchSize: number, subdivisions: number): [number, number][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`splitBatch: batchSize ${batchSize} must be a positive integer`);
  }
  if (!Number.isInteger(subdivisions) || subdivisions < 1 || subdivisions > batchSize) {
    throw new Error(`splitBatch: subdivisions ${subdivisions} must be an integer in 1..${batchSize} (the batch size)`);
  }
  const base = Math.floor(batchSize / subdivisions);
  const extra = batchSize % subdivisions;
  const ranges: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < subdivisions; i++) {
    const end = start + base + (i < extra ? 1 : 0);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

/**
 * Computes the gradient of a batch as the combination of its mini-batches' gradients, holding
 * only one mini-batch's activations in memory at a time. Apply the result with
 * `optimizer.applyGradients(grads)` and dispose the gradients afterwards.
 *
 * @example
 * ```ts
 * const { loss, grads } = accumulateGradients({
 *   batchSize: 8, subdivisions: 4,
 *   lossFn: (start, end) => yoloLoss.total(model.predictRaw(images.slice(start, end - start), true),
 *                                           targets.slice(start, end)).loss,
 * });
 * optimizer.applyGradients(grads);
 * tf.dispose(grads);
 * ```
 */
export function accumulateGradients(opts: AccumulateOptions): AccumulatedGradients {
  const reduce = opts.reduce ?? 'mean';
  if (reduce !== 'mean' && reduce !== 'sum') {
    throw new Error(`accumulateGradients: reduce '${String(reduce)}' must be 'mean' or 'sum'`);
  }
  const ranges = splitBatch(opts.batchSize, opts.subdivisions);
  let grads: tf.NamedTensorMap = {};
  let loss = 0;
  for (const [start, end] of ranges) {
    const weight = reduce === 'mean' ? (end - start) / opts.batchSize : 1;
    const part = tf.variableGrads(() => opts.lossFn(start, end), opts.varList);
    const value = part.value.dataSync()[0];
    if (!Number.isFinite(value)) {
      tf.dispose([part.value, ...Object.values(part.grads), ...Object.values(grads)]);
      throw new Error(`accumulateGradients: the loss of images ${start}..${end - 1} is ${value}; lower the learning rate or check the data`);
    }
    loss += weight * value;
    const next: tf.NamedTensorMap = tf.tidy(() => {
      const out: tf.NamedTensorMap = {};
      for (const [name, g] of Object.entries(part.grads)) {
        const scaled = weight === 1 ? tf.clone(g) : tf.mul(g, weight);
        out[name] = name in grads ? tf.add(grads[name], scaled) : scaled;
      }
      return out;
    });
    tf.dispose([part.value, ...Object.values(part.grads), ...Object.values(grads)]);
    grads = next;
  }
  return { loss, grads };
}
