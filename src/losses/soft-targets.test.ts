import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertAllClose, backendsUnderTest, useBackend, values } from '../../test/helpers.js';
import { sigmoidFocalLoss } from './focal.js';
import { polyFocalLoss, qualityFocalLoss, varifocalLoss } from './soft-targets.js';
import { asymmetricLoss } from './asymmetric.js';
import { asl64, ce64, centralDifference, focal64, linspace, polyFocal64, qfl64, sigmoid64, vfl64 } from './reference64.js';

const backends = await backendsUnderTest();

/** Elementwise loss and d(sum)/dx of `loss(labels, x, opts)`. */
function lossAndGrad(
  loss: (y: tf.Tensor, x: tf.Tensor, opts: { reduction: 'none' | 'sum' }) => tf.Tensor,
  y: tf.Tensor, x: tf.Tensor,
) {
  return tf.tidy(() => ({
    loss: values(loss(y, x, { reduction: 'none' })),
    grad: values(tf.grad((z: tf.Tensor) => loss(y, z, { reduction: 'sum' }))(x)),
  }));
}

const xs = linspace(-30, 30, 121).map(Math.fround);
const labelSet = [0, 0.3, 0.6, 1];
const xAll = labelSet.flatMap(() => xs);
const yAll = labelSet.flatMap((y) => xs.map(() => y));

/** Checks float32 values against float64 ones (`scale` bounds the rounding) and the float64 gradient against central differences. */
function checkAgainst64(
  what: string, got: { loss: Float32Array; grad: Float32Array },
  f64: (x: number, y: number) => number, g64: ((x: number, y: number) => number) | undefined, rtol: number,
): void {
  for (let i = 0; i < xAll.length; i++) {
    const [x, y] = [xAll[i], yAll[i]];
    const l = f64(x, y);
    const fd = centralDifference((t) => f64(t, y), x, 1e-5 * Math.max(1, Math.abs(x)));
    const g = g64 ? g64(x, y) : fd;
    assert.ok(Number.isFinite(got.loss[i]) && Number.isFinite(got.grad[i]), `${what} x ${x} y ${y}: non-finite`);
    if (g64) assert.ok(Math.abs(fd - g) <= 1e-6 * Math.abs(g) + 1e-9 * Math.abs(l) + 1e-300, `${what} x ${x} y ${y}: analytic ${g} vs central difference ${fd}`);
    assert.ok(Math.abs(got.loss[i] - l) <= rtol * Math.abs(l) + 1e-30, `${what} x ${x} y ${y}: loss ${got.loss[i]} vs float64 ${l}`);
    // gradient terms are of the size of the loss's slope: compare to |g| plus the loss (cancellation at the minimum)
    assert.ok(Math.abs(got.grad[i] - g) <= rtol * (Math.abs(g) + Math.abs(l)) + 1e-30, `${what} x ${x} y ${y}: gradient ${got.grad[i]} vs float64 ${g}`);
  }
}

for (const backend of backends) {
  test(`[${backend}] qualityFocalLoss: values and gradient vs float64 (GFL's analytic gradient, checked by central differences)`, async () => {
    await useBackend(backend);
    const x = tf.tensor1d(xAll);
    const y = tf.tensor1d(yAll);
    for (const beta of [1, 2, 3]) {
      const got = lossAndGrad((a, b, o) => qualityFocalLoss(a, b, { ...o, beta }), y, x);
      checkAgainst64(`QFL β ${beta}`, got, (t, v) => qfl64(t, v, beta).loss, (t, v) => qfl64(t, v, beta).grad, 3e-5);
    }
    // hand-computed: y 0.6, x 0.4
    const p = 1 / (1 + Math.exp(-0.4));
    const ce = -(0.6 * Math.log(p) + 0.4 * Math.log(1 - p));
    assertAllClose(values(qualityFocalLoss([0.6], [0.4], { reduction: 'none' })), [ce * (0.6 - p) ** 2], { what: 'hand QFL' });
    tf.dispose([x, y]);
  });

  test(`[${backend}] soft targets: QFL's minimum is at σ(x) = y, TF-style focal's is biased (spec §2.5: p ≈ 0.724, loss 0.147)`, async () => {
    await useBackend(backend);
    const ps = linspace(0.3, 0.95, 6501);
    const logits = tf.tensor1d(ps.map((p) => Math.log(p / (1 - p))));
    const y = tf.fill([ps.length], 0.6);
    const argmin = (v: Float32Array) => v.reduce((best, cur, i) => (cur < v[best] ? i : best), 0);
    const qfl = tf.tidy(() => values(qualityFocalLoss(y, logits, { reduction: 'none' })));
    const fl = tf.tidy(() => values(sigmoidFocalLoss(y, logits, { alpha: null, gamma: 2, reduction: 'none' })));
    assert.ok(Math.abs(ps[argmin(qfl)] - 0.6) < 2e-3, `QFL argmin ${ps[argmin(qfl)]}`);
    assert.ok(qfl[argmin(qfl)] < 1e-6);
    assert.ok(Math.abs(ps[argmin(fl)] - 0.724) < 2e-3, `focal argmin ${ps[argmin(fl)]}`);
    assert.ok(Math.abs(fl[argmin(fl)] - 0.147) < 1e-3, `focal minimum ${fl[argmin(fl)]}`);
    tf.dispose([logits, y]);
  });

  test(`[${backend}] varifocalLoss: q·CE for positives, α·σ^γ·CE for negatives; finite gradient for γ < 1`, async () => {
    await useBackend(backend);
    const x = tf.tensor1d(xAll);
    const y = tf.tensor1d(yAll);
    for (const [gamma, iouWeighted] of [[2, true], [0.5, true], [2, false]] as const) {
      const got = lossAndGrad((a, b, o) => varifocalLoss(a, b, { ...o, gamma, iouWeighted }), y, x);
      checkAgainst64(`VFL γ ${gamma}`, got, (t, v) => vfl64(t, v, 0.75, gamma, iouWeighted), undefined, 3e-5);
    }
    const hand = values(varifocalLoss([0.7, 0], [0.4, 2], { reduction: 'none' }));
    const p = sigmoid64(0.4);
    assertAllClose(hand, [0.7 * -(0.7 * Math.log(p) + 0.3 * Math.log(1 - p)), 0.75 * sigmoid64(2) ** 2 * ce64(2, 0)], { what: 'hand VFL' });
    tf.dispose([x, y]);
  });

  test(`[${backend}] polyFocalLoss: ε = 0 is the focal loss; ε adds (1 − p_t)^(γ+1); gradient vs central differences`, async () => {
    await useBackend(backend);
    const x = tf.tensor1d(xAll);
    const y = tf.tensor1d(yAll);
    const zero = tf.tidy(() => values(polyFocalLoss(y, x, { epsilon: 0, reduction: 'none' })));
    const focal = tf.tidy(() => values(sigmoidFocalLoss(y, x, { reduction: 'none' })));
    assertAllClose(zero, focal, { rtol: 1e-6, atol: 0, what: 'ε = 0' });
    for (const [epsilon, gamma] of [[1, 2], [-1, 0.5], [2, 1]] as const) {
      const got = lossAndGrad((a, b, o) => polyFocalLoss(a, b, { ...o, epsilon, gamma }), y, x);
      checkAgainst64(`Poly-1 ε ${epsilon} γ ${gamma}`, got, (t, v) => polyFocal64(t, v, 0.25, gamma, epsilon), undefined, 3e-5);
    }
    assertAllClose(values(polyFocalLoss([1], [0.5], { alpha: null, gamma: 2, epsilon: 1, reduction: 'none' })),
      [focal64(0.5, 1, null, 2) + (1 - sigmoid64(0.5)) ** 3], { what: 'hand Poly-1' });
    tf.dispose([x, y]);
  });

  test(`[${backend}] asymmetricLoss: values and gradient vs float64 and central differences; γ = 0, m = 0 is BCE`, async () => {
    await useBackend(backend);
    const x = tf.tensor1d(xAll);
    const y = tf.tensor1d(yAll);
    for (const [gp, gn, clip] of [[0, 4, 0.05], [1, 4, 0.05], [0.5, 0.5, 0.2], [2, 1, 0]] as const) {
      const got = lossAndGrad((a, b, o) => asymmetricLoss(a, b, { ...o, gammaPositive: gp, gammaNegative: gn, clip }), y, x);
      checkAgainst64(`ASL γ+ ${gp} γ− ${gn} m ${clip}`, got, (t, v) => asl64(t, v, gp, gn, clip), undefined, 3e-5);
    }
    const bce = tf.tidy(() => values(asymmetricLoss(y, x, { gammaPositive: 0, gammaNegative: 0, clip: 0, reduction: 'none' })));
    const reference = tf.tidy(() => values(tf.losses.sigmoidCrossEntropy(y, x, undefined, 0, tf.Reduction.NONE)));
    assertAllClose(bce, reference, { rtol: 1e-5, atol: 1e-7, what: 'ASL(0, 0, 0) = BCE' });
    // hand-computed negative: p = σ(0.5), m = 0.05, γ− = 4
    const p = sigmoid64(0.5);
    assertAllClose(values(asymmetricLoss([0], [0.5], { reduction: 'none' })), [(p - 0.05) ** 4 * -Math.log(1 - (p - 0.05))], { what: 'hand ASL' });
    assert.throws(() => asymmetricLoss([1], [0], { clip: 1 }), /asymmetricLoss: clip = 1 is invalid; use a probability margin in \[0, 1\)/);
    tf.dispose([x, y]);
  });
}
