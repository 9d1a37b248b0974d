import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { assertAllClose, backendsUnderTest, useBackend, values } from '../../test/helpers.js';
import {
  binaryCrossEntropy, binaryFocalCrossentropy, binaryFocalLoss, categoricalFocalCrossentropy, kerasLoss, polyFocalLoss,
  PositivesEma, priorBias, qualityFocalLoss, sigmoidFocalLoss, softmaxFocalLoss, varifocalLoss, type KerasLossFunction,
} from './index.js';

const backends = await backendsUnderTest();

for (const backend of backends) {
  test(`[${backend}] reductions: weights, ignore masks out of the denominator, normalizer clamped to ≥ 1`, async () => {
    await useBackend(backend);
    const y = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
    const x = tf.tensor2d([[0.5, -1, 2], [1, 0.3, -0.7]]);
    const l = tf.tidy(() => values(sigmoidFocalLoss(y, x, { reduction: 'none' })));
    const sum = l.reduce((s, v) => s + v, 0);
    const r = (opts: Parameters<typeof sigmoidFocalLoss>[2]) => tf.tidy(() => values(sigmoidFocalLoss(y, x, opts)));
    assertAllClose(r({ reduction: 'sum' }), [sum], { what: 'sum' });
    assertAllClose(r({}), [sum / 6], { what: 'default mean' });
    const mask = [[1, 1, 0], [1, 0, 0]];
    assertAllClose(r({ weights: mask }), [(l[0] + l[1] + l[3]) / 3], { what: 'mean over kept' });
    assertAllClose(r({ weights: mask, reduction: 'sum' }), [l[0] + l[1] + l[3]], { what: 'sum over kept' });
    assertAllClose(r({ weights: [[0, 0, 0], [0, 0, 0]] }), [0], { what: 'all ignored is 0, not NaN' });
    assertAllClose(r({ weights: [2, 1, 0] }), [(2 * l[0] + l[1] + 2 * l[3] + l[4]) / 6], { what: 'per-class weights, weighted mean' });
    assertAllClose(r({ weights: [2, 1, 0], reduction: tf.Reduction.SUM_BY_NONZERO_WEIGHTS }), [(2 * l[0] + l[1] + 2 * l[3] + l[4]) / 4], { what: 'nonzero' });
    assertAllClose(r({ normalizer: 4 }), [sum / 4], { what: 'normalizer' });
    assertAllClose(r({ normalizer: 0 }), [sum], { what: 'normalizer clamped to 1' });
    assertAllClose(r({ normalizer: tf.scalar(0.5), reduction: 'sum' }), [sum], { what: 'tensor normalizer clamped' });
    assertAllClose(r({ normalizer: tf.scalar(3), weights: mask }), [(l[0] + l[1] + l[3]) / 3], { what: 'masked sum / normalizer' });
    assertAllClose(r({ normalizer: 2, reduction: 'none' }), Array.from(l, (v) => v / 2), { what: 'none / normalizer' });
    assertAllClose(r({ reduction: tf.Reduction.NONE }), l, { what: 'tf.Reduction.NONE' });
    assertAllClose(r({ reduction: tf.Reduction.SUM }), [sum], { what: 'tf.Reduction.SUM' });
    tf.dispose([y, x]);
  });

  test(`[${backend}] binaryCrossEntropy is the reference's clipped BCE, elementwise with reduction 'none'`, async () => {
    await useBackend(backend);
    const got = tf.tidy(() => values(binaryCrossEntropy([1, 0, 1, 0.3], [0.9, 0.2, 1, 0.5], { reduction: 'none', weights: [1, 1, 1, 2] })));
    assertAllClose(got, [-Math.log(0.9), -Math.log(0.8), -Math.log(Math.fround(1 - 1e-7)), 2 * Math.LN2], { rtol: 1e-5, atol: 1e-7 });
    const mean = tf.tidy(() => values(binaryCrossEntropy([[1, 0]], [[0.9, 0.2]], { labelSmoothing: 0.2 })));
    // labels smoothed toward 0.5: 1 → 0.9, 0 → 0.1
    const want = (-(0.9 * Math.log(0.9) + 0.1 * Math.log(0.1)) - (0.1 * Math.log(0.2) + 0.9 * Math.log(0.8))) / 2;
    assertAllClose(mean, [want], { rtol: 1e-5 });
  });

  test(`[${backend}] Keras factories train a tf.LayersModel and report the same loss as the functions`, async () => {
    await useBackend(backend);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [2], kernelInitializer: 'ones', biasInitializer: 'zeros' })] });
    const xs = tf.tensor2d([[1, 2], [0.5, -1], [-1, 0.2], [2, 0]]);
    const ys = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]);
    const cases: [string, KerasLossFunction, (p: tf.Tensor) => tf.Tensor][] = [
      ['binary logits', binaryFocalCrossentropy({ fromLogits: true, gamma: 2 }), (p) => sigmoidFocalLoss(ys, p, { gamma: 2 })],
      ['binary probabilities', binaryFocalCrossentropy({ fromLogits: false, gamma: 1 }), (p) => binaryFocalLoss(ys, tf.sigmoid(p), { gamma: 1 })],
      ['categorical logits', categoricalFocalCrossentropy({ fromLogits: true, alpha: [0.2, 0.3, 0.5] }), (p) => softmaxFocalLoss(ys, p, { alpha: [0.2, 0.3, 0.5] })],
      ['quality', kerasLoss(qualityFocalLoss, { beta: 2 }), (p) => qualityFocalLoss(ys, p)],
    ];
    for (const [name, fn, direct] of cases) {
      const probabilities = name === 'binary probabilities';
      const out = probabilities ? tfl.layers.activation({ activation: 'sigmoid' }) : undefined;
      const m = out ? tfl.sequential({ layers: [model.layers[0], out] }) : model;
      m.compile({ optimizer: 'sgd', loss: fn });
      const evaluated = m.evaluate(xs, ys) as tf.Scalar;
      const want = tf.tidy(() => direct(model.predict(xs) as tf.Tensor));
      assertAllClose(values(evaluated), values(want), { rtol: 1e-5, what: name });
      const h = await m.fit(xs, ys, { epochs: 3, batchSize: 4, verbose: 0 });
      const losses = h.history.loss as number[];
      assert.ok(losses.every(Number.isFinite) && losses[2] < losses[0], `${name}: loss did not fall: ${losses.join(', ')}`);
      tf.dispose([evaluated, want]);
    }
    // categorical on probabilities: log of the probabilities, renormalised by the softmax
    const probs = tf.tensor2d([[0.7, 0.2, 0.1]]);
    const viaFactory = categoricalFocalCrossentropy({ fromLogits: false })(tf.tensor2d([[1, 0, 0]]), probs);
    assertAllClose(values(viaFactory), [-(0.3 ** 2) * Math.log(0.7)], { rtol: 1e-5, what: 'categorical probabilities' });
    tf.dispose([xs, ys, probs, viaFactory]);
  });
}

test('priorBias is −log((1 − π)/π): σ(priorBias(π)) = π', () => {
  assert.ok(Math.abs(priorBias() - -4.59511985) < 1e-8);
  for (const pi of [1e-4, 0.01, 0.5, 0.9]) assert.ok(Math.abs(1 / (1 + Math.exp(-priorBias(pi))) - pi) < 1e-12);
  for (const bad of [0, 1, -0.1, Number.NaN]) assert.throws(() => priorBias(bad), /priorBias: pi = .* is invalid; use a probability strictly between 0 and 1/);
});

test('bad options are one-line errors that name the value and the fix', () => {
  const y = [[1, 0]];
  const x = [[0.5, -0.5]];
  const cases: [() => unknown, RegExp][] = [
    [() => sigmoidFocalLoss(y, x, { alpha: 1.5 }), /^sigmoidFocalLoss: alpha = 1.5 is invalid \(outside \[0, 1\]\); use a number in \[0, 1\], an array of them \(one per class\), or null/],
    // @ts-expect-error: a string, as a JavaScript caller could pass
    [() => sigmoidFocalLoss(y, x, { alpha: '0.25' }), /alpha = "0.25" is invalid \(not a number, array or null\)/],
    [() => sigmoidFocalLoss(y, x, { alpha: [0.25] }), /alpha = \[0.25\] is invalid \(1 entries for 2 classes on the last axis\)/],
    [() => sigmoidFocalLoss(y, x, { alpha: -1 }), /alpha = -1 is invalid/],
    [() => sigmoidFocalLoss(y, x, { gamma: -1 }), /^sigmoidFocalLoss: gamma = -1 is invalid; use a finite number ≥ 0/],
    [() => binaryFocalLoss(y, x, { gamma: Number.NaN }), /^binaryFocalLoss: gamma = NaN is invalid/],
    [() => softmaxFocalLoss(y, x, { labelSmoothing: 1 }), /^softmaxFocalLoss: labelSmoothing = 1 is invalid; use a number in \[0, 1\)/],
    // @ts-expect-error: not a reduction
    [() => sigmoidFocalLoss(y, x, { reduction: 'avg' }), /^sigmoidFocalLoss: reduction = "avg" is invalid; use 'none', 'sum', 'mean' or a tf.Reduction value/],
    [() => sigmoidFocalLoss(y, x, { normalizer: -2 }), /normalizer = -2 is invalid; use a finite number ≥ 0/],
    [() => sigmoidFocalLoss(y, x, { weights: [1, 1, 1] }), /^sigmoidFocalLoss: weights shape \[3\] does not broadcast to the loss shape \[1,2\]/],
    [() => sigmoidFocalLoss([1, 0, 1], x), /^sigmoidFocalLoss: labels shape \[3\] does not match logits shape \[1,2\]; pass tensors of the same shape/],
    [() => binaryCrossEntropy(y, [0.5]), /^binaryCrossEntropy: labels shape \[1,2\] does not match probs shape \[1\]/],
    [() => qualityFocalLoss(y, x, { beta: 0.5 }), /^qualityFocalLoss: beta = 0.5 has an infinite derivative at σ\(x\) = y; use 0 or β ≥ 1/],
    [() => varifocalLoss(y, x, { alpha: 2 }), /^varifocalLoss: alpha = 2 is invalid; use a number in \[0, 1\]/],
    [() => polyFocalLoss(y, x, { epsilon: -2 }), /^polyFocalLoss: epsilon = -2 is invalid; use a number ≥ −1/],
    // @ts-expect-error: fromLogits missing
    [() => binaryFocalCrossentropy({ gamma: 2 }), /^binaryFocalCrossentropy: fromLogits = undefined; say what the model outputs/],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (err: Error) => {
      assert.match(err.message, message);
      assert.ok(!err.message.includes('\n'), `multi-line error: ${err.message}`);
      return true;
    });
  }
  assert.doesNotThrow(() => tf.dispose(sigmoidFocalLoss(y, x, { alpha: null, gamma: 0 })));
});

test('PositivesEma follows detectron2: value ← 0.9·value + 0.1·max(n, 1), from 100', () => {
  const ema = new PositivesEma();
  assert.equal(ema.value, 100);
  assert.ok(Math.abs(ema.update(20) - 92) < 1e-12);
  assert.ok(Math.abs(ema.update(0) - (0.9 * 92 + 0.1)) < 1e-12);
  const fast = new PositivesEma({ initial: 1, momentum: 0 });
  assert.equal(fast.update(7), 7);
  assert.throws(() => new PositivesEma({ momentum: 1 }), /PositivesEma: momentum = 1 is invalid; use a number in \[0, 1\)/);
  assert.throws(() => ema.update(-1), /positives = -1 is invalid/);
});
