import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ReferenceOptimizer } from './optimizer.js';
import { assertAllClose, backendsUnderTest, useBackend, values } from '../../test/helpers.js';

// Produced by PyTorch 1.13 with test/reference/optimizer_steps.py (same parameters, gradients, schedule).
const TORCH = {
  sgd: { w: [0.7347254513730771, -1.9192377286204165, -0.02884964127815502], b: [0.3637299150004875] },
  adam: { w: [0.8150157152428482, -1.902203288729349, 0.32489745105779355], b: [0.25938078552917293] },
  adamw: { w: [0.8153066523686062, -1.900758764734099, 0.3240543315168984], b: [0.25938078552917293] },
};
const GRADS = [
  [[0.5, -1.0, 2.0], [0.25]],
  [[-0.3, 0.7, 0.1], [-1.5]],
  [[1.0, 1.0, -2.0], [0.5]],
  [[0.2, -0.4, 0.6], [2.0]],
];

function run(type: 'sgd' | 'adam' | 'adamw', stopAfter = 4, restore?: ReturnType<ReferenceOptimizer['getState']>) {
  const w = tf.variable(tf.tensor1d([1.0, -2.0, 0.5]), true, `w-${type}-${Math.random()}`);
  const b = tf.variable(tf.tensor1d([0.3]), true, `b-${type}-${Math.random()}`);
  const opt = new ReferenceOptimizer([{ params: [w], weightDecay: 0.01 }, { params: [b], weightDecay: 0 }], { type, momentum: 0.937 });
  return { w, b, opt, stopAfter, restore };
}

function steps(o: ReturnType<typeof run>, from: number, to: number) {
  for (let i = from; i < to; i++) {
    o.opt.lr = i >= 2 ? 0.05 : 0.1;
    const grads = { [o.w.name]: tf.tensor1d(GRADS[i][0]), [o.b.name]: tf.tensor1d(GRADS[i][1]) };
    o.opt.step(grads);
    tf.dispose(Object.values(grads));
  }
}

test('SGD (Nesterov), Adam and AdamW updates equal PyTorch step for step', async () => {
  for (const backend of await backendsUnderTest()) {
    await useBackend(backend);
    for (const type of ['sgd', 'adam', 'adamw'] as const) {
      const o = run(type);
      steps(o, 0, 4);
      assertAllClose(values(o.w), TORCH[type].w, { rtol: 2e-5, atol: 1e-6, what: `${backend}/${type} w` });
      assertAllClose(values(o.b), TORCH[type].b, { rtol: 2e-5, atol: 1e-6, what: `${backend}/${type} b` });
      o.opt.dispose();
      tf.dispose([o.w, o.b]);
    }
  }
});

test('a saved optimizer state resumes to the same result; frozen variables are untouched', async () => {
  await useBackend('cpu');
  for (const type of ['sgd', 'adam'] as const) {
    const first = run(type);
    steps(first, 0, 2);
    const state = first.opt.getState();
    // a fresh optimizer on copies of the weights, restored from the state, continues identically
    const second = run(type);
    second.w.assign(first.w);
    second.b.assign(first.b);
    const renamed = {
      ...state,
      steps: { [second.w.name]: state.steps[first.w.name], [second.b.name]: state.steps[first.b.name] },
      slots: Object.fromEntries(Object.entries(state.slots).map(([k, v]) => [k.replace(first.w.name, second.w.name).replace(first.b.name, second.b.name), v])),
    };
    second.opt.setState(renamed);
    steps(second, 2, 4);
    assertAllClose(values(second.w), TORCH[type].w, { rtol: 2e-5, atol: 1e-6, what: `${type} resumed w` });
    assert.throws(() => second.opt.setState({ ...renamed, type: type === 'sgd' ? 'adam' : 'sgd' }), /saved state is for/);
    // no gradient for b → b stays as it is
    const before = values(second.b);
    const g = tf.tensor1d([1, 1, 1]);
    second.opt.step({ [second.w.name]: g });
    assert.deepEqual(values(second.b), before);
    tf.dispose([g, ...Object.values(state.slots), first.w, first.b, second.w, second.b]);
    first.opt.dispose();
    second.opt.dispose();
  }
});

test('bad optimizer configuration is refused with a clear message', () => {
  const v = tf.variable(tf.scalar(1), true, 'bad-opt');
  // @ts-expect-error an unknown optimizer name, as JavaScript callers could pass
  assert.throws(() => new ReferenceOptimizer([{ params: [v], weightDecay: 0 }], { type: 'rmsprop' }), /type 'rmsprop' must be 'sgd', 'adam' or 'adamw'/);
  assert.throws(() => new ReferenceOptimizer([{ params: [v], weightDecay: 0 }, { params: [v], weightDecay: 0 }], { type: 'sgd' }), /in two parameter groups/);
  v.dispose();
});
