import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { accumulateGradients, splitBatch } from './accumulate.js';
import { assertAllClose, backendsUnderTest, useBackend, values } from '../../test/helpers.js';

test('splitBatch covers the batch evenly and rejects impossible splits', () => {
  assert.deepEqual(splitBatch(10, 3), [[0, 4], [4, 7], [7, 10]]);
  assert.deepEqual(splitBatch(8, 1), [[0, 8]]);
  assert.deepEqual(splitBatch(4, 4), [[0, 1], [1, 2], [2, 3], [3, 4]]);
  assert.throws(() => splitBatch(4, 5), /subdivisions 5 must be an integer in 1\.\.4/);
  assert.throws(() => splitBatch(0, 1), /batchSize 0 must be a positive integer/);
});

/** A tiny conv net: conv 3x3 → relu → conv 1x1 stride... → per-image mean of squares. */
function makeNet(seed: number) {
  const w1 = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.5, 'float32', seed), true, `w1-${seed}`);
  const w2 = tf.variable(tf.randomNormal([1, 1, 4, 3], 0, 0.5, 'float32', seed + 1), true, `w2-${seed}`);
  const perImage = (x: tf.Tensor4D) => {
    const h = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 2, 'same'));
    const y = tf.conv2d(h, w2 as tf.Tensor4D, 1, 'valid');
    return tf.mean(tf.square(tf.sub(y, 0.3)), [1, 2, 3]); // [B]
  };
  return { vars: [w1, w2], perImage };
}

test('accumulated mini-batch gradients equal the whole batch gradient (mean and sum)', async () => {
  for (const backend of await backendsUnderTest()) {
    await useBackend(backend);
    const x = tf.randomUniform([10, 8, 8, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
    const net = makeNet(3);
    for (const reduce of ['mean', 'sum'] as const) {
      const lossOf = (s: number, e: number) => {
        const per = net.perImage(tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]));
        return (reduce === 'mean' ? tf.mean(per) : tf.sum(per)) as tf.Scalar;
      };
      const full = tf.variableGrads(() => lossOf(0, 10), net.vars);
      const before = tf.memory().numTensors;
      const acc = accumulateGradients({ batchSize: 10, subdivisions: 3, lossFn: lossOf, reduce, varList: net.vars });
      // only the returned gradients stay alive
      assert.equal(tf.memory().numTensors, before + net.vars.length, `${backend}/${reduce}: leaked tensors`);
      assertAllClose([acc.loss], [full.value.dataSync()[0]], { rtol: 1e-5, what: `${backend}/${reduce} loss` });
      for (const v of net.vars) {
        assertAllClose(values(acc.grads[v.name]), values(full.grads[v.name]), { rtol: 1e-4, atol: 1e-6, what: `${backend}/${reduce} grad ${v.name}` });
      }
      tf.dispose([full.value, ...Object.values(full.grads), ...Object.values(acc.grads)]);
    }
    tf.dispose([x, ...net.vars]);
  }
});

test('accumulateGradients stops on a non-finite loss and names the images', async () => {
  await useBackend('cpu');
  const v = tf.variable(tf.scalar(1), true, 'nan-test');
  assert.throws(
    () => accumulateGradients({ batchSize: 4, subdivisions: 2, varList: [v], lossFn: (s) => (s === 2 ? tf.div(v, 0) : tf.mul(v, 2)) as tf.Scalar }),
    /the loss of images 2\.\.3 is Infinity/,
  );
  v.dispose();
});
