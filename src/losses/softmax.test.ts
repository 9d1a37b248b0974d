import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertAllClose, backendsUnderTest, useBackend, values } from '../../test/helpers.js';
import { softmaxFocalLoss } from './softmax.js';
import { centralDifference, softmaxFocal64, softmaxFocalGrad64 } from './reference64.js';
import type { FocalOptions } from './options.js';

const backends = await backendsUnderTest();

/** A small deterministic generator (LCG) for reproducible test inputs. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function rowsAndGrad(y: tf.Tensor, x: tf.Tensor, opts: FocalOptions) {
  return tf.tidy(() => {
    const grad = tf.grad((z: tf.Tensor) => softmaxFocalLoss(y, z, { ...opts, reduction: 'sum' }))(x);
    return { rows: values(softmaxFocalLoss(y, x, { ...opts, reduction: 'none' })), grad: values(grad) };
  });
}

for (const backend of backends) {
  test(`[${backend}] softmaxFocalLoss: a hand-computed row, and γ = 0 equals tf.losses.softmaxCrossEntropy`, async () => {
    await useBackend(backend);
    const e = [Math.exp(0.1), Math.exp(0.2), Math.exp(3)];
    const p2 = e[2] / (e[0] + e[1] + e[2]);
    const one = softmaxFocalLoss([[0, 0, 1]], [[0.1, 0.2, 3]], { gamma: 2, reduction: 'none' });
    assertAllClose(values(one), [-((1 - p2) ** 2) * Math.log(p2)], { rtol: 1e-5, what: 'row' });
    const x = tf.tensor2d([[0.1, 0.2, 3], [2, -1, 0.5], [30, -30, 0]]);
    const y = tf.tensor2d([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
    const w = tf.tensor1d([1, 0, 2]);
    const ours = [
      softmaxFocalLoss(y, x, { gamma: 0, reduction: 'none' }),
      softmaxFocalLoss(y, x, { gamma: 0, weights: w }),
      softmaxFocalLoss(y, x, { gamma: 0, labelSmoothing: 0.1, reduction: 'sum' }),
    ];
    const theirs = [
      tf.losses.softmaxCrossEntropy(y, x, undefined, 0, tf.Reduction.NONE),
      tf.losses.softmaxCrossEntropy(y, x, w, 0, tf.Reduction.MEAN),
      tf.losses.softmaxCrossEntropy(y, x, undefined, 0.1, tf.Reduction.SUM),
    ];
    ours.forEach((o, i) => assertAllClose(values(o), values(theirs[i]), { rtol: 1e-6, atol: 1e-6, what: `case ${i}` }));
    tf.dispose([one, x, y, w, ...ours, ...theirs]);
  });

  test(`[${backend}] softmaxFocalLoss gradient = float64 analytic (checked against central differences), logits in [-30, 30], one-hot and soft labels`, async () => {
    await useBackend(backend);
    const rnd = random(7);
    const rows = 120;
    const classes = 4;
    const xs: number[][] = [];
    const ys: number[][] = [];
    for (let r = 0; r < rows; r++) {
      const scale = [1, 5, 30][r % 3];
      xs.push(Array.from({ length: classes }, () => Math.fround((2 * rnd() - 1) * scale)));
      if (r % 2 === 0) ys.push(Array.from({ length: classes }, (_, c) => (c === r % classes ? 1 : 0)));
      else {
        const raw = Array.from({ length: classes }, () => rnd());
        const sum = raw.reduce((s, v) => s + v, 0);
        ys.push(raw.map((v) => Math.fround(v / sum)));
      }
    }
    xs.push([40, 0, 0, -40]); // saturated softmax
    ys.push([1, 0, 0, 0]);
    const x = tf.tensor2d(xs);
    const y = tf.tensor2d(ys);
    const alphaSets: (number[] | undefined)[] = [undefined, [0.25, 0.5, 0.75, 1]];
    for (const gamma of [0, 0.5, 1, 2, 5]) {
      for (const a of alphaSets) {
        const r = rowsAndGrad(y, x, { gamma, alpha: a ?? null });
        for (let i = 0; i < xs.length; i++) {
          const want = softmaxFocalGrad64(xs[i], ys[i], gamma, a);
          for (let j = 0; j < classes; j++) {
            const f = (t: number) => softmaxFocal64(xs[i].map((v, k) => (k === j ? t : v)), ys[i], gamma, a);
            const fd = centralDifference(f, xs[i][j], 1e-5);
            assert.ok(Math.abs(fd - want[j]) <= 1e-6 * Math.abs(want[j]) + 1e-8, `γ ${gamma} row ${i} class ${j}: analytic ${want[j]} vs central difference ${fd}`);
            const got = r.grad[i * classes + j];
            assert.ok(Number.isFinite(got), `γ ${gamma} row ${i}: non-finite gradient`);
            // float32 log-softmax of logits up to |30| carries ~2e-6 absolute error
            assert.ok(Math.abs(got - want[j]) <= 2e-5 * Math.abs(want[j]) + 5e-6, `γ ${gamma} α ${a} row ${i} class ${j}: gradient ${got} vs float64 ${want[j]}`);
          }
          const l64 = softmaxFocal64(xs[i], ys[i], gamma, a);
          assert.ok(Math.abs(r.rows[i] - l64) <= 2e-5 * l64 + 5e-6, `γ ${gamma} row ${i}: loss ${r.rows[i]} vs float64 ${l64}`);
        }
      }
    }
    tf.dispose([x, y]);
  });

  test(`[${backend}] softmaxFocalLoss: per-class α scales each class's term, row weights ignore rows, no leaks`, async () => {
    await useBackend(backend);
    const x = tf.tensor2d([[0.3, -0.2, 1], [0.3, -0.2, 1], [0.3, -0.2, 1]]);
    const y = tf.eye(3);
    const before = tf.memory().numTensors;
    const plain = tf.tidy(() => values(softmaxFocalLoss(y, x, { reduction: 'none' })));
    const weighted = tf.tidy(() => values(softmaxFocalLoss(y, x, { reduction: 'none', alpha: [0.1, 0.5, 0.9] })));
    assertAllClose(weighted, [0.1 * plain[0], 0.5 * plain[1], 0.9 * plain[2]], { what: 'per-class α' });
    const masked = tf.tidy(() => values(softmaxFocalLoss(y, x, { weights: [1, 0, 1] })));
    assertAllClose(masked, [(plain[0] + plain[2]) / 2], { what: 'mean over kept rows' });
    tf.grad((z: tf.Tensor) => softmaxFocalLoss(y, z, { gamma: 0.5 }))(x).dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => softmaxFocalLoss(y, x, { alpha: [0.1, 0.2] }), /softmaxFocalLoss: alpha = \[0.1,0.2\] is invalid \(2 entries for 3 classes/);
    tf.dispose([x, y]);
  });

  test(`[${backend}] softmaxFocalLoss takes class indices too; a negative index ignores the row`, async () => {
    await useBackend(backend);
    const x = tf.tensor2d([[0.3, -0.2, 1], [2, 0.1, -1], [0.5, 0.5, 0.5]]);
    const oneHot = tf.tensor2d([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
    const opts = { gamma: 1.5, alpha: [0.2, 0.3, 0.5], labelSmoothing: 0.1 };
    const rows = tf.tidy(() => values(softmaxFocalLoss(oneHot, x, { ...opts, reduction: 'none' })));
    const sparse = tf.tidy(() => values(softmaxFocalLoss(tf.tensor1d([2, 0, 1], 'int32'), x, { ...opts, reduction: 'none' })));
    assertAllClose(sparse, rows, { what: 'indices = one-hot' });
    const ignored = tf.tidy(() => values(softmaxFocalLoss([2, -1, 1], x, opts)));
    assertAllClose(ignored, [(rows[0] + rows[2]) / 2], { what: 'mean over the rows kept' });
    const both = tf.tidy(() => values(softmaxFocalLoss([2, -1, 1], x, { ...opts, weights: [3, 1, 1] })));
    assertAllClose(both, [(3 * rows[0] + rows[2]) / 4], { what: 'ignore index and row weights' });
    assert.throws(() => softmaxFocalLoss([2, 3, 1], x), /softmaxFocalLoss: class index 3 at row 1 is invalid; use 0 … 2, or a negative index to ignore the row/);
    assert.throws(() => softmaxFocalLoss([2, 0], x), /softmaxFocalLoss: class-index labels shape \[2\] does not match the logits' rows \[3\]/);
    tf.dispose([x, oneHot]);
  });
}
