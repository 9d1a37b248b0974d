// Freeing gradients during backprop (tape-memory.ts): the same gradients as tfjs's own backprop,
// a lower peak, nothing leaked, and what callers hold (their dy, higher-order gradients) untouched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index.js';
import { setTapeFreeing } from './tape-memory.js';

/** A small network with fan-out (w used twice, a residual sum, a concat and split) and its gradients. */
function gradientsOf(x: tf.Tensor, w: tf.Variable, v: tf.Variable): { grads: tf.NamedTensorMap; peakBytes: Promise<number> } {
  let grads: tf.NamedTensorMap = {};
  const peakBytes = tf.profile(() => {
    const result = tf.variableGrads(() => {
      const h = tf.tanh(tf.matMul(x, w));
      const r = tf.add(h, tf.sigmoid(tf.matMul(h, v)));
      const [a, b] = tf.split(tf.concat([r, tf.square(r)], 1), 2, 1);
      const y = tf.mul(tf.matMul(a, w), tf.exp(tf.neg(b)));
      return tf.sum(tf.mul(y, y));
    }, [w, v]);
    result.value.dispose();
    grads = result.grads;
  }).then((info) => info.peakBytes);
  return { grads, peakBytes };
}

test('gradients are exactly tfjs\'s own, with a lower peak and no tensors left behind', async () => {
  await initBackend({ prefer: 'cpu', quiet: true });
  const x = tf.randomNormal([256, 64], 0, 1, 'float32', 1);
  const w = tf.variable(tf.randomNormal([64, 64], 0, 0.2, 'float32', 2), true, 'tape-w');
  const v = tf.variable(tf.randomNormal([64, 64], 0, 0.2, 'float32', 3), true, 'tape-v');
  const before = tf.memory().numTensors;
  const previous = setTapeFreeing(false);
  const plain = gradientsOf(x, w, v);
  const plainPeak = await plain.peakBytes;
  setTapeFreeing(true);
  const freed = gradientsOf(x, w, v);
  const freedPeak = await freed.peakBytes;
  setTapeFreeing(previous);
  for (const name of ['tape-w', 'tape-v']) {
    assert.deepEqual(Array.from(freed.grads[name].dataSync()), Array.from(plain.grads[name].dataSync()), `gradient of ${name}`);
  }
  assert.ok(freedPeak < plainPeak, `peak ${freedPeak} bytes with freeing, ${plainPeak} without`);
  tf.dispose([...Object.values(plain.grads), ...Object.values(freed.grads)]);
  assert.equal(tf.memory().numTensors, before, 'tensors after both gradient passes');
  tf.dispose([x, w, v]);
});

test('a caller\'s dy stays usable and second-order gradients are right', async () => {
  await initBackend({ prefer: 'cpu', quiet: true });
  const x = tf.tensor1d([0.5, -1, 2]);
  const dy = tf.tensor1d([1, 2, 3]);
  const g = tf.grad((t: tf.Tensor) => tf.mul(tf.exp(t), 2))(x, dy);
  assert.deepEqual(Array.from(dy.dataSync()), [1, 2, 3], 'dy after the backward pass');
  const expected = [0.5, -1, 2].map((t, i) => 2 * Math.exp(t) * [1, 2, 3][i]);
  Array.from(g.dataSync()).forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-5, `d/dx[${i}] = ${value}`));
  // d²/dx² x³ = 6x, through a gradient taken inside a gradient
  const second = tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.pow(u, 3))(t))(x);
  assert.deepEqual(Array.from(second.dataSync()).map((value) => Math.round(value * 1e5) / 1e5), [3, -6, 12]);
  tf.dispose([x, dy, g, second]);
});
