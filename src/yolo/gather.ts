/**
 * Picking a few thousand scattered elements out of a large head output, with a gradient that
 * scatters back in one pass. tfjs's own gather gradient (an unsorted segment sum over every element)
 * costs O(picked × size) on the cpu backend; the YOLO loss reads ~1/25 of each head this way.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `x.flatten()[indices]` as a differentiable op. The forward reads `values` (the caller's
 * `x.dataSync()`, already needed for the ignore mask); the gradient is `dy` scattered (summed on
 * duplicate indices) into zeros of x's shape.
 *
 * @param x the tensor gradients flow to, any shape
 * @param values x's values, flattened (row-major)
 * @param indices flat element indices into x
 * @returns [indices.length]
 * @example
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * gatherFlat(x, x.dataSync(), Int32Array.of(3, 0)); // [4, 1]
 */
export function gatherFlat(x: tf.Tensor, values: ArrayLike<number>, indices: Int32Array): tf.Tensor1D {
  const size = x.size;
  const pick = tf.customGrad((input) => {
    const picked = new Float32Array(indices.length);
    for (let e = 0; e < indices.length; e++) picked[e] = values[indices[e]];
    return {
      value: tf.tensor1d(picked),
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync();
        const full = new Float32Array(size);
        for (let e = 0; e < indices.length; e++) full[indices[e]] += g[e];
        return tf.tensor(full, (input as tf.Tensor).shape, 'float32');
      },
    };
  });
  return pick(x) as tf.Tensor1D;
}
