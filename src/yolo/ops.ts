/**
 * Two ops whose tfjs gradients are slow on the cpu backend, with hand-written gradients:
 * - picking scattered elements out of large head outputs (tfjs's gather gradient is an unsorted
 *   segment sum costing O(picked × size) there; the YOLO loss reads ~1/25 of each head this way);
 * - the weighted sum of a long vector (tfjs's sum gradient multiplies a [1]-shaped dy into the
 *   vector through the cpu backend's general broadcasting loop, ~0.3 µs per element).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Which elements {@link gatherFlat} picks: element e is `values[source[e]][index[e]]`. */
export interface FlatPick {
  /** [K] which input each picked element comes from. */
  source: Uint8Array;
  /** [K] flat (row-major) element index inside that input. */
  index: Int32Array;
}

/**
 * Picks scattered elements from one or more tensors into one vector, as a differentiable op.
 * The forward reads `values` (the callers' `dataSync()`, which the YOLO loss needs anyway for its
 * ignore mask); the gradient scatters dy (summed on duplicates) into zeros of each input's shape.
 *
 * @param xs the tensors gradients flow to (at most 256)
 * @param values each tensor's values, flattened
 * @param pick the elements to pick, in output order
 * @returns [K]
 * @example
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * gatherFlat([x], [x.dataSync()], { source: new Uint8Array(2), index: Int32Array.of(3, 0) }); // [4, 1]
 */
export function gatherFlat(xs: tf.Tensor[], values: ArrayLike<number>[], pick: FlatPick): tf.Tensor1D {
  const { source, index } = pick;
  const op = tf.customGrad((...inputs) => {
    const picked = new Float32Array(index.length);
    for (let e = 0; e < index.length; e++) picked[e] = values[source[e]][index[e]];
    return {
      value: tf.tensor1d(picked),
      // built in JS: measured no slower on wasm than its ScatterNd kernel, and far faster on cpu
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync();
        const full = xs.map((x) => new Float32Array(x.size));
        for (let e = 0; e < index.length; e++) full[source[e]][index[e]] += g[e];
        return full.map((f, s) => tf.tensor(f, (inputs[s] as tf.Tensor).shape, 'float32'));
      },
    };
  });
  return op(...xs) as tf.Tensor1D;
}

/**
 * Σ w·x over all elements, w a constant (no gradient), with the gradient dy·w as one
 * scalar-times-tensor product.
 *
 * @param x any shape
 * @param w same shape as x
 * @returns scalar
 * @example
 * weightedSum(tf.tensor1d([1, 2, 3]), tf.tensor1d([0.5, 0.5, 0])); // 1.5
 */
export function weightedSum(x: tf.Tensor, w: tf.Tensor): tf.Scalar {
  if (!tf.util.arraysEqual(x.shape, w.shape)) {
    throw new Error(`weightedSum: weights shape [${w.shape.join(',')}] does not match x shape [${x.shape.join(',')}]; pass weights of the same shape.`);
  }
  const op = tf.customGrad((input, save) => {
    (save as tf.GradSaveFunc)([w]); // kept for the backward pass even if the caller disposes w
    return {
      value: tf.sum(tf.mul(input as tf.Tensor, w)) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]),
    };
  });
  return op(x) as tf.Scalar;
}
