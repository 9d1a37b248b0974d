import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ModelEMA } from './ema.js';
import { useBackend, values } from '../../test/helpers.js';

test('EMA follows d·(1−exp(−n/τ)) and swap exchanges weights and averages', async () => {
  await useBackend('cpu');
  const v = tf.variable(tf.tensor1d([1, 2]), true, 'ema-v');
  const ema = new ModelEMA([v], { decay: 0.9, tau: 1 });
  // update 1: decay = 0.9(1 − e^−1); the average of [1, 2] with itself stays [1, 2]
  ema.update();
  ema.swap();
  assert.deepEqual(Array.from(values(v)), [1, 2]);
  ema.swap();
  v.assign(tf.tensor1d([3, 6]));
  const d2 = 0.9 * (1 - Math.exp(-2));
  assert.ok(Math.abs(ema.currentDecay() - d2) < 1e-12);
  ema.update();
  const expected = [1 * d2 + 3 * (1 - d2), 2 * d2 + 6 * (1 - d2)];
  ema.swap();
  const got = values(v);
  assert.ok(Math.abs(got[0] - expected[0]) < 1e-5 && Math.abs(got[1] - expected[1]) < 1e-5, `${got} vs ${expected}`);
  ema.swap();
  assert.deepEqual(Array.from(values(v)), [3, 6]);
  const state = ema.state();
  const other = new ModelEMA([v]);
  other.load(state, ema.updates);
  other.swap();
  assert.ok(Math.abs(values(v)[0] - expected[0]) < 1e-5);
  assert.throws(() => other.load({}, 0), /no saved average for 'ema-v'/);
  tf.dispose([v, ...Object.values(state)]);
  ema.dispose();
  other.dispose();
});
