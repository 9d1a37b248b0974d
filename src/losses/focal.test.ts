import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertAllClose, backendsUnderTest, useBackend, values } from '../../test/helpers.js';
import { binaryFocalLoss, sigmoidFocalLoss } from './focal.js';
import { SIGMOID_FOCAL_KERNEL, setFusedFocalKernel } from './focal-kernel.js';
import { centralDifference, focal64, focalGrad64, linspace } from './reference64.js';

const backends = await backendsUnderTest();

/** dL/dx of the elementwise-summed loss, and the elementwise loss, for a fixed y. */
function lossAndGrad(y: tf.Tensor, x: tf.Tensor, opts: Parameters<typeof sigmoidFocalLoss>[2]) {
  return tf.tidy(() => {
    const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => sigmoidFocalLoss(y, z, { ...opts, reduction: 'sum' }) as tf.Scalar)(x);
    const elementwise = sigmoidFocalLoss(y, x, { ...opts, reduction: 'none' });
    return { sum: value.dataSync()[0], grad: values(grad), loss: values(elementwise) };
  });
}

// cpu and wasm run the fused kernel by default: test the composite ops (torch, webgl) there too
const modes = backends.flatMap((backend): { backend: string; fused: boolean; label: string }[] => (backend === 'cpu' || backend === 'wasm' ? [
  { backend, fused: true, label: `${backend}, fused kernel` },
  { backend, fused: false, label: `${backend}, tfjs ops` },
] : [{ backend, fused: false, label: backend }]));

for (const { backend, fused, label } of modes) {
  const useMode = async () => {
    await useBackend(backend as (typeof backends)[number]);
    setFusedFocalKernel(fused);
  };

  test(`[${label}] sigmoidFocalLoss matches the spec's float64 vectors (α 0.25, γ 2), value and gradient`, async () => {
    await useMode();
    const x = tf.tensor1d([0, 0, 2, -2, 2, -3]);
    const y = tf.tensor1d([1, 0, 1, 1, 0, 0]);
    const r = lossAndGrad(y, x, { alpha: 0.25, gamma: 2 });
    assertAllClose(r.loss, [0.0433217, 0.1299651, 0.00045089, 0.41251954, 1.23755863, 0.00008196], { rtol: 1e-6, atol: 6e-9, what: 'FL' });
    assertAllClose(r.grad, [-0.0745717, 0.2237151, -0.00121774, -0.26917843, 0.8075353, 0.00023615], { rtol: 1e-6, atol: 6e-9, what: 'dFL/dx' });
    // an upstream factor and a normaliser scale the gradient (the fused kernel reduces in place)
    const scaled = tf.tidy(() => values(tf.grad((z: tf.Tensor) => tf.mul(3, sigmoidFocalLoss(y, z, { normalizer: 2 })))(x)));
    assertAllClose(scaled, Array.from(r.grad, (g) => 1.5 * g), { rtol: 1e-6, atol: 1e-9, what: '3 · dFL/dx / 2' });
    tf.dispose([x, y]);
  });

  test(`[${label}] gradient = float64 analytic (checked against central differences) over x in [-30, 30], γ in {0, 0.5, 1, 2, 5}, hard and soft labels`, async () => {
    await useMode();
    const xs = linspace(-30, 30, 241);
    const ys = [0, 0.3, 0.6, 1];
    const xAll: number[] = [];
    const yAll: number[] = [];
    for (const y of ys) for (const x of xs) { xAll.push(x); yAll.push(y); }
    const x = tf.tensor1d(xAll);
    const y = tf.tensor1d(yAll);
    for (const gamma of [0, 0.5, 1, 2, 5]) {
      for (const alpha of [0.25, null]) {
        const xf = values(x); // the float32 logits actually evaluated
        const want = Array.from(xf, (xi, i) => focalGrad64(xi, yAll[i], alpha, gamma));
        // 1. the float64 analytic gradient is the derivative of the float64 loss (central differences)
        for (let i = 0; i < xf.length; i++) {
          const f = (t: number) => focal64(t, yAll[i], alpha, gamma);
          const fd = centralDifference(f, xf[i], 1e-5 * Math.max(1, Math.abs(xf[i])));
          const tol = 1e-6 * Math.abs(want[i].grad) + 1e-9 * f(xf[i]) + 1e-300;
          assert.ok(Math.abs(fd - want[i].grad) <= tol, `γ ${gamma} α ${alpha} x ${xf[i]} y ${yAll[i]}: analytic ${want[i].grad} vs central difference ${fd}`);
        }
        // 2. tfjs's float32 value and gradient agree with float64 to float32 rounding of their terms
        const r = lossAndGrad(y, x, { alpha, gamma });
        for (let i = 0; i < xf.length; i++) {
          assert.ok(Number.isFinite(r.grad[i]) && Number.isFinite(r.loss[i]), `γ ${gamma}: non-finite at x ${xf[i]} y ${yAll[i]}`);
          const { grad, scale } = want[i];
          const tolerance = 1e-5 * scale + 1e-37;
          assert.ok(Math.abs(r.grad[i] - grad) <= tolerance,
            `γ ${gamma} α ${alpha} x ${xf[i]} y ${yAll[i]}: gradient ${r.grad[i]} vs float64 ${grad} (tolerance ${tolerance})`);
          const l64 = focal64(xf[i], yAll[i], alpha, gamma);
          assert.ok(Math.abs(r.loss[i] - l64) <= 1e-5 * l64 + 1e-37, `γ ${gamma} x ${xf[i]} y ${yAll[i]}: loss ${r.loss[i]} vs float64 ${l64}`);
        }
      }
    }
    tf.dispose([x, y]);
    if (fused) assert.ok(tf.getKernel(SIGMOID_FOCAL_KERNEL, backend) !== undefined, 'the fused kernel should have run');
  });

  test(`[${label}] ±100 logits: loss 0 (to float32) when right, finite gradients for every γ`, async () => {
    await useMode();
    const x = tf.tensor1d([100, -100, 100, -100]);
    const y = tf.tensor1d([1, 0, 0, 1]);
    for (const gamma of [0, 0.25, 0.5, 1, 2]) {
      const r = lossAndGrad(y, x, { gamma });
      // the exact values are ≤ e^-100 ≈ 3.7e-44: float32 zero or a subnormal
      for (const v of [...r.loss.slice(0, 2), ...r.grad.slice(0, 2)]) assert.ok(Math.abs(v) < 1e-43, `γ ${gamma}: ${v}`);
      // wrong by 100: CE = 100, m = 1, dL/dx = ±α_t (bounded like CE)
      assertAllClose(r.loss.slice(2), [0.75 * 100, 0.25 * 100], { rtol: 1e-6, what: `γ ${gamma} loss` });
      assertAllClose(r.grad.slice(2), [0.75, -0.25], { rtol: 1e-6, what: `γ ${gamma} grad` });
    }
    // where autodiff through pow gives NaN (γ < 1, σ saturated), ours stays finite
    const autodiff = tf.grad((z: tf.Tensor) => tf.sum(tf.pow(tf.sub(1, tf.sigmoid(z)), 0.5)))(tf.tensor1d([20]));
    assert.ok(!Number.isFinite(autodiff.dataSync()[0]), 'the naive form should be non-finite here (else this test proves nothing)');
    tf.dispose([x, y, autodiff]);
  });

  test(`[${label}] γ = 0 and α = null is exactly tf.losses.sigmoidCrossEntropy, for every reduction`, async () => {
    await useMode();
    const x = tf.tensor2d([[-18.6, 0.51, 2.94, -12.8], [3, -1, 0.2, 40]]);
    const y = tf.tensor2d([[0, 1, 0, 0], [1, 1, 0.3, 1]]);
    const w = tf.tensor2d([[1, 0, 2, 1], [0.5, 1, 1, 0]]);
    const opts = { alpha: null, gamma: 0 } as const;
    const cases: [number[] | Float32Array, tf.Tensor][] = [
      [values(sigmoidFocalLoss(y, x, { ...opts, reduction: 'none' })), tf.losses.sigmoidCrossEntropy(y, x, undefined, 0, tf.Reduction.NONE)],
      [values(sigmoidFocalLoss(y, x, { ...opts, reduction: 'sum', weights: w })), tf.losses.sigmoidCrossEntropy(y, x, w, 0, tf.Reduction.SUM)],
      [values(sigmoidFocalLoss(y, x, { ...opts, reduction: 'mean', weights: w })), tf.losses.sigmoidCrossEntropy(y, x, w, 0, tf.Reduction.MEAN)],
      [values(sigmoidFocalLoss(y, x, { ...opts, reduction: tf.Reduction.SUM_BY_NONZERO_WEIGHTS, weights: w })),
        tf.losses.sigmoidCrossEntropy(y, x, w, 0, tf.Reduction.SUM_BY_NONZERO_WEIGHTS)],
      [values(sigmoidFocalLoss(y, x, { ...opts })), tf.losses.sigmoidCrossEntropy(y, x)],
      [values(sigmoidFocalLoss(y, x, { ...opts, labelSmoothing: 0.1, reduction: 'none' })), tf.losses.sigmoidCrossEntropy(y, x, undefined, 0.1, tf.Reduction.NONE)],
    ];
    for (const [i, [ours, theirs]] of cases.entries()) assertAllClose(ours, values(theirs), { rtol: 1e-6, atol: 1e-7, what: `case ${i}` });
    tf.dispose([x, y, w]);
  });

  test(`[${label}] α semantics: positives get α, negatives 1 − α; a per-class α vector indexes the last axis`, async () => {
    await useMode();
    const x = tf.tensor2d([[0.7, -1.2], [0.7, -1.2]]);
    const y = tf.tensor2d([[1, 1], [0, 0]]);
    const ce = values(sigmoidFocalLoss(y, x, { alpha: null, gamma: 0, reduction: 'none' }));
    const a = values(sigmoidFocalLoss(y, x, { alpha: 0.9, gamma: 0, reduction: 'none' }));
    assertAllClose(a, [0.9 * ce[0], 0.9 * ce[1], 0.1 * ce[2], 0.1 * ce[3]], { what: 'scalar α' });
    const v = values(sigmoidFocalLoss(y, x, { alpha: [0.9, 0.2], gamma: 0, reduction: 'none' }));
    assertAllClose(v, [0.9 * ce[0], 0.2 * ce[1], 0.1 * ce[2], 0.8 * ce[3]], { what: 'per-class α' });
    const total = values(sigmoidFocalLoss(y, x, { alpha: [0.9, 0.2], gamma: 0, reduction: 'sum' }));
    assertAllClose(total, [0.9 * ce[0] + 0.2 * ce[1] + 0.1 * ce[2] + 0.8 * ce[3]], { what: 'per-class α, summed' });
    tf.dispose([x, y]);
  });

  test(`[${label}] parity with the Keras and TF Addons docstring values`, async () => {
    await useMode();
    const x = tf.tensor1d([-18.6, 0.51, 2.94, -12.8]);
    const y = tf.tensor1d([0, 1, 0, 0]);
    assertAllClose(values(sigmoidFocalLoss(y, x, { alpha: null, gamma: 2 })), [0.691], { rtol: 1e-3, what: 'Keras γ 2' });
    assertAllClose(values(sigmoidFocalLoss(y, x, { alpha: 0.25, gamma: 2 })), [0.51], { rtol: 2e-3, what: 'Keras balanced' });
    // Keras's 2×2 example (it averages over the last axis first)
    const kx = tf.tensor2d([[-18.6, 0.51], [2.94, -12.8]]);
    const ky = tf.tensor2d([[0, 1], [0, 0]]);
    assertAllClose(values(sigmoidFocalLoss(ky, kx, { alpha: null, gamma: 3 })), [0.647], { rtol: 1e-3, what: 'Keras γ 3' });
    assertAllClose(values(sigmoidFocalLoss(ky, kx, { alpha: null, gamma: 4, reduction: 'sum', normalizer: 2 })), [1.222], { rtol: 1e-3, what: 'Keras γ 4 sum' });
    assertAllClose(values(tf.mean(sigmoidFocalLoss(ky, kx, { alpha: null, gamma: 5, reduction: 'none' }), -1)), [0.0017, 1.1561], { rtol: 3e-2, atol: 0, what: 'Keras γ 5 none' });
    tf.dispose([kx, ky]);
    const tfa = binaryFocalLoss([1, 1, 0], [0.97, 0.91, 0.03], { alpha: 0.25, gamma: 2, reduction: 'none' });
    assertAllClose(values(tfa), [6.853e-6, 1.91e-4, 2.056e-5], { rtol: 2e-3, atol: 0, what: 'TFA' });
    tf.dispose([x, y, tfa]);
  });

  test(`[${label}] binaryFocalLoss (reference probability form) = sigmoidFocalLoss wherever p is inside the clip`, async () => {
    await useMode();
    const xs = linspace(-14, 14, 113);
    const yAll = [...xs.map(() => 1), ...xs.map(() => 0), ...xs.map(() => 0.4)];
    const x = tf.tensor1d([...xs, ...xs, ...xs]);
    const y = tf.tensor1d(yAll);
    const xf = values(x);
    for (const gamma of [0, 1, 2]) {
      const stable = lossAndGrad(y, x, { gamma });
      const prob = tf.tidy(() => {
        const { grad } = tf.valueAndGrad((z: tf.Tensor) => binaryFocalLoss(y, tf.sigmoid(z), { gamma, reduction: 'sum' }) as tf.Scalar)(x);
        return { loss: values(binaryFocalLoss(y, tf.sigmoid(x), { gamma, reduction: 'none' })), grad: values(grad) };
      });
      for (let i = 0; i < xf.length; i++) {
        // float32 holds p only to 6e-8 absolute, so ln p or ln(1 − p) is off by up to 6e-8 / min(p, 1 − p)
        const p = 1 / (1 + Math.exp(-xf[i]));
        const rel = 1e-4 + 1.2e-7 / Math.min(p, 1 - p);
        for (const [what, a, b] of [['loss', prob.loss[i], stable.loss[i]], ['grad', prob.grad[i], stable.grad[i]]] as const) {
          assert.ok(Math.abs(a - b) <= rel * Math.abs(b) + 1e-7, `γ ${gamma} x ${xf[i]} y ${yAll[i]}: ${what} ${a} (probability form) vs ${b} (stable)`);
        }
      }
    }
    tf.dispose([x, y]);
  });

  test(`[${label}] binaryFocalLoss clips like the reference: capped at −ln(1e-7), zero gradient outside the clip`, async () => {
    await useMode();
    const y = tf.tensor1d([1, 0, 1]);
    const p = tf.tensor1d([0, 1, 0.5]);
    const loss = values(binaryFocalLoss(y, p, { alpha: 0.25, gamma: 2, reduction: 'none' }));
    // the clip bounds are float32 numbers, as in PyTorch: 1e-7 and 1 − 1.19e-7
    assertAllClose(loss, [0.25 * -Math.log(Math.fround(1e-7)), 0.75 * -Math.log(1 - Math.fround(1 - 1e-7)), 0.25 * 0.25 * Math.LN2], { rtol: 1e-5, what: 'clipped' });
    const g = values(tf.grad((q: tf.Tensor) => binaryFocalLoss(y, q, { gamma: 0, reduction: 'sum' }))(p));
    assert.deepEqual(Array.from(g.slice(0, 2)), [0, 0]);
    assertAllClose([g[2]], [-0.25 / 0.5], { what: 'inside the clip' });
    tf.dispose([y, p]);
  });

  test(`[${label}] sigmoidFocalLoss leaks no tensors, forward or backward`, async () => {
    await useMode();
    const x = tf.tensor2d([[1, -2], [30, 0]]);
    const y = tf.tensor2d([[1, 0], [0, 1]]);
    const before = tf.memory().numTensors;
    const l = sigmoidFocalLoss(y, x, { weights: [1, 0], normalizer: 2 });
    l.dispose();
    const g = tf.grad((z: tf.Tensor) => sigmoidFocalLoss(y, z, { gamma: 0.5, alpha: [0.3, 0.6] }))(x);
    g.dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, y]);
  });
}
