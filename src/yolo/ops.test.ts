// The hand-written gradients of gatherFlat and weightedSum against hand-computed values.
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, before } from 'node:test';
import { assertAllClose, backendsUnderTest, useBackend } from '../../test/helpers.js';
import { gatherFlat, weightedSum } from './ops.js';

describe('yolo ops', async () => {
  const backends = await backendsUnderTest();
  for (const backend of backends) {
    describe(backend, () => {
      before(() => useBackend(backend));
      it('gatherFlat: values and gradient by hand, duplicates summed (tf.gather has no gradient kernel on wasm)', () => {
        const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
        const b = tf.tensor1d([10, 20, 30, 40]);
        const pick = { source: Uint8Array.of(0, 1, 0, 0, 1, 1), index: Int32Array.of(5, 2, 0, 5, 0, 3) };
        const dy = tf.tensor1d([1, 2, 3, 4, 5, 6]);
        const ours = (x: tf.Tensor, y: tf.Tensor) => gatherFlat([x, y], [x.dataSync(), y.dataSync()], pick);
        assertAllClose(ours(a, b).dataSync(), [6, 30, 1, 6, 10, 40]);
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(ours(x, y), dy)))([a, b]);
        // a[5] is picked twice (dy 1 and 4), a[0] once (dy 3); b[2] ← 2, b[0] ← 5, b[3] ← 6
        assertAllClose(ga.dataSync(), [3, 0, 0, 0, 0, 5]);
        assertAllClose(gb.dataSync(), [5, 0, 2, 6]);
      });

      it('weightedSum: value Σ w·x and gradient dy·w', () => {
        const x = tf.tensor2d([[1, -2], [3, 0.5]]);
        const w = tf.tensor2d([[0.5, 0.25], [0, 2]]);
        assertAllClose(weightedSum(x, w).dataSync(), [0.5 - 0.5 + 0 + 1]);
        const g = tf.grad((v: tf.Tensor) => tf.mul(weightedSum(v, w), 3))(x);
        assertAllClose(g.dataSync(), [1.5, 0.75, 0, 6]);
      });
    });
  }
});
