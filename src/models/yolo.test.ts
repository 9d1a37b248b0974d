import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { assertAllClose, backendsUnderTest, useBackend } from '../../test/helpers.js';
import type { BackendName } from '../backend/index.js';
import { createYolo, type CreateYoloOptions, type Yolo } from './yolo.js';

// the main backend (fastest available) for everything not checked per backend
before(async () => {
  await backendsUnderTest();
});

test('parameter counts equal the reference (§1.7)', () => {
  const cases: [CreateYoloOptions, number, number, number][] = [
    [{ variant: 'yolov4', numClasses: 20 }, 64_040_001, 66_304, 110],
    [{ variant: 'yolov4', numClasses: 80 }, 64_363_101, 66_304, 110],
    [{ variant: 'yolov4-tiny', numClasses: 20 }, 5_918_006, 6_208, 21],
    [{ variant: 'yolov4-tiny', numClasses: 80 }, 6_056_606, 6_208, 21],
    [{ variant: 'yolov4-tiny', numClasses: 80, phi: 1 }, 6_099_614, 6_208, 21], // SE +43,008
    [{ variant: 'yolov4-tiny', numClasses: 80, phi: 2 }, 6_142_916, 6_208, 21], // CBAM +86,310
    [{ variant: 'yolov4-tiny', numClasses: 80, phi: 3 }, 6_056_621, 6_208, 21], // ECA +15
  ];
  for (const [opts, params, buffers, convs] of cases) {
    const m = createYolo({ ...opts, seed: 1 });
    const what = `${opts.variant} C=${opts.numClasses} phi=${opts.phi ?? 0}`;
    assert.equal(m.countParameters(), params, what);
    assert.equal(m.countParameters({ buffers: true }), buffers, what);
    assert.equal(m.graph.nodes.filter((n) => n.kind === 'conv').length, convs, what);
    if (opts.phi === undefined) {
      const backbone = m.params.filter((p) => p.trainable && p.key.startsWith('backbone.')).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
      assert.equal(backbone, opts.variant === 'yolov4' ? 26_617_184 : 3_629_728, what);
    }
    m.dispose();
  }
});

test('raw outputs: level 0 (stride 32) first, NHWC, 3·(5+C) channels, for non-square inputs', () => {
  const tiny = createYolo({ variant: 'yolov4-tiny', numClasses: 4, seed: 1 });
  const v4 = createYolo({ variant: 'yolov4', numClasses: 4, seed: 1 });
  const x = tf.randomUniform([1, 64, 96, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const a = tiny.predictRaw(x);
  const b = v4.predictRaw(x);
  assert.deepEqual(a.map((t) => t.shape), [[1, 2, 3, 27], [1, 4, 6, 27]]);
  assert.deepEqual(b.map((t) => t.shape), [[1, 2, 3, 27], [1, 4, 6, 27], [1, 8, 12, 27]]);
  for (const t of [...a, ...b]) assert.ok(t.dataSync().every(Number.isFinite));
  assert.throws(() => tiny.predictRaw(tf.zeros([1, 40, 64, 3]) as tf.Tensor4D), /image size 40×64 is not a multiple of 32/);
  assert.throws(() => tiny.predictRaw(tf.zeros([1, 64, 64]) as unknown as tf.Tensor4D), /expected NHWC/);
  tf.dispose([x, ...a, ...b]);
  tiny.dispose();
  v4.dispose();
});

test('createYolo rejects bad options with the value and the fix', () => {
  assert.throws(() => createYolo({ variant: 'yolov5' as 'yolov4', numClasses: 2 }), /variant 'yolov5' is unknown; use 'yolov4' or 'yolov4-tiny'/);
  assert.throws(() => createYolo({ variant: 'yolov4', numClasses: 0 }), /numClasses=0 must be a positive integer/);
  assert.throws(() => createYolo({ variant: 'yolov4', numClasses: 2, inputShape: [416, 400] }), /inputShape=\[416, 400\].*multiples of 32/);
  assert.throws(() => createYolo({ variant: 'yolov4', numClasses: 2, phi: 1 }), /phi=1 is not supported for yolov4/);
  assert.throws(() => createYolo({ variant: 'yolov4-tiny', numClasses: 2, phi: 4 }), /phi=4/);
  assert.throws(() => createYolo({ variant: 'yolov4-tiny', numClasses: 2, priorObjectnessBias: 1 }), /priorObjectnessBias=1 must be a probability/);
});

test('initialisation follows the reference (§1.6), is seeded, and the RetinaNet prior sets only objectness biases', () => {
  const numClasses = 5;
  const m = createYolo({ variant: 'yolov4-tiny', numClasses, seed: 42, priorObjectnessBias: 0.01 });
  const same = createYolo({ variant: 'yolov4-tiny', numClasses, seed: 42 });
  const stats = (a: Float32Array) => {
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    return { mean, std: Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length) };
  };
  const w = stats(m.readParam('backbone.conv3.conv.weight')); // 2.4M samples
  assert.ok(Math.abs(w.mean) < 1e-3 && Math.abs(w.std - 0.02) < 2e-4, `conv weights ${JSON.stringify(w)}`);
  const g = stats(m.readParam('backbone.conv3.bn.weight'));
  assert.ok(Math.abs(g.mean - 1) < 0.01 && Math.abs(g.std - 0.02) < 0.005, `BN gamma ${JSON.stringify(g)}`);
  assert.ok(m.readParam('backbone.conv3.bn.bias').every((v) => v === 0));
  assert.ok(m.readParam('backbone.conv3.bn.running_var').every((v) => v === 1));
  const bias = m.readParam('yolo_headP4.1.bias');
  const plain = same.readParam('yolo_headP4.1.bias');
  const bound = 1 / Math.sqrt(256);
  for (let c = 0; c < bias.length; c++) {
    if (c % (5 + numClasses) === 4) assertAllClose([bias[c]], [-Math.log(99)], { what: `objectness bias ${c}` });
    else {
      assert.equal(bias[c], plain[c]);
      assert.ok(Math.abs(bias[c]) <= bound);
    }
  }
  assert.deepEqual(m.readParam('backbone.conv1.conv.weight'), same.readParam('backbone.conv1.conv.weight'));
  m.dispose();
  same.dispose();
});

/** Per-channel mean and unbiased variance of conv(x, w) (stride s, zero padding p), by direct loops. */
function convChannelStats(x: Float32Array, [n, h, w, c]: number[], k: Float32Array, ksize: number, filters: number, stride: number, pad: number) {
  const oh = Math.floor((h + 2 * pad - ksize) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - ksize) / stride) + 1;
  const sum = new Float64Array(filters);
  const sq = new Float64Array(filters);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let f = 0; f < filters; f++) {
    let acc = 0;
    for (let u = 0; u < ksize; u++) for (let v = 0; v < ksize; v++) {
      const y = i * stride - pad + u;
      const z = j * stride - pad + v;
      if (y < 0 || z < 0 || y >= h || z >= w) continue;
      for (let ch = 0; ch < c; ch++) acc += x[((b * h + y) * w + z) * c + ch] * k[((u * ksize + v) * c + ch) * filters + f];
    }
    sum[f] += acc;
    sq[f] += acc * acc;
  }
  const count = n * oh * ow;
  const mean = Array.from(sum, (s) => s / count);
  const unbiased = Array.from(sq, (s, f) => (s - count * mean[f] ** 2) / (count - 1));
  return { mean, unbiased };
}

async function trainingBackends(): Promise<BackendName[]> {
  const found: BackendName[] = [];
  for (const b of await backendsUnderTest()) {
    // wasm gets its convolution-gradient kernels from initBackend once they exist
    if (tf.getKernel('Conv2DBackpropFilter', b) !== undefined) found.push(b);
  }
  if (!found.includes('cpu')) found.push('cpu');
  await backendsUnderTest(); // back to the main backend
  return found;
}

test('a training step: gradients reach every weight, SGD moves them, BN running stats follow PyTorch (momentum 0.1, unbiased var)', async (t) => {
  const backends = await trainingBackends();
  t.diagnostic(`training-step backends: ${backends.join(', ')}`);
  for (const backend of backends) {
    await useBackend(backend);
    const model = createYolo({ variant: 'yolov4-tiny', numClasses: 2, inputShape: [32, 32], phi: 2, seed: 9 });
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const kernel = model.readParam('backbone.conv1.conv.weight');
    const before = model.readParam('backbone.resblock_body2.conv3.conv.weight').slice();
    const loss = () => tf.tidy(() => tf.addN(model.predictRaw(x, true).map((o) => tf.sum(o))) as tf.Scalar);
    const { value, grads } = tf.variableGrads(loss, model.trainableVariables());
    assert.ok(Number.isFinite(value.dataSync()[0]));
    assert.equal(Object.keys(grads).length, model.params.filter((p) => p.trainable).length);
    for (const p of model.params.filter((q) => q.trainable)) {
      const g = grads[model.variable(p.key).name].dataSync();
      assert.ok(g.every(Number.isFinite), `${backend}: gradient of ${p.key} is not finite`);
      assert.ok(g.some((v) => v !== 0), `${backend}: gradient of ${p.key} is all zero`);
    }
    // d(Σ level-0 outputs)/d(level-0 head bias) = number of positions = 2 images × 1 × 1 cell
    assertAllClose(grads[model.variable('yolo_headP5.1.bias').name].dataSync(), new Float32Array(21).fill(2), { what: `${backend} head bias grad` });
    // first BatchNorm: running = 0.9·(0 | 1) + 0.1·(batch mean | unbiased batch variance)
    const { mean, unbiased } = convChannelStats(x.dataSync() as Float32Array, x.shape, kernel, 3, 32, 2, 1);
    assertAllClose(model.readParam('backbone.conv1.bn.running_mean'), mean.map((m) => 0.1 * m), { rtol: 1e-4, atol: 1e-6, what: `${backend} running_mean` });
    assertAllClose(model.readParam('backbone.conv1.bn.running_var'), unbiased.map((v) => 0.9 + 0.1 * v), { rtol: 1e-4, atol: 1e-6, what: `${backend} running_var` });
    assert.equal(model.batchesTracked, 1);

    const key = 'backbone.resblock_body2.conv3.conv.weight';
    const g = grads[model.variable(key).name].dataSync();
    tf.train.sgd(0.1).applyGradients(grads);
    assertAllClose(model.readParam(key), before.map((w, i) => w - 0.1 * g[i]), { what: `${backend} SGD step` });

    // frozen backbone: no gradients there, but its BN statistics still update (reference quirk 11)
    model.freezeBackbone();
    assert.ok(model.trainableVariables().every((v) => !v.name.includes('/backbone.')));
    const frozenWeight = model.readParam(key).slice();
    const statsBefore = model.readParam('backbone.conv1.bn.running_mean').slice();
    const step = tf.variableGrads(loss, model.trainableVariables());
    tf.train.sgd(0.1).applyGradients(step.grads);
    assert.deepEqual(model.readParam(key), frozenWeight);
    assert.notDeepEqual(model.readParam('backbone.conv1.bn.running_mean'), statsBefore);
    model.unfreezeBackbone();
    assert.equal(model.trainableVariables().length, model.params.filter((p) => p.trainable).length);
    tf.dispose([x, value, step.value, ...Object.values(grads), ...Object.values(step.grads)]);
    model.dispose();
  }
  await backendsUnderTest();
});

test('YOLOv4 (Mish backbone) trains on a tiny input: finite non-zero gradients, BN stats move', async (t) => {
  const [fastest] = await trainingBackends();
  await useBackend(fastest);
  t.diagnostic(`backend: ${fastest}`);
  const model = createYolo({ variant: 'yolov4', numClasses: 1, inputShape: [32, 32], seed: 5 });
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
  const { value, grads } = tf.variableGrads(
    () => tf.addN(model.predictRaw(x, true).map((o) => tf.mean(tf.square(o)))) as tf.Scalar,
    model.trainableVariables(),
  );
  assert.ok(Number.isFinite(value.dataSync()[0]));
  for (const key of ['backbone.conv1.conv.weight', 'backbone.stages.4.blocks_conv.3.block.1.conv.weight', 'conv2.0.bn.weight', 'yolo_head3.1.bias']) {
    const g = grads[model.variable(key).name].dataSync();
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), key);
  }
  assert.ok(model.readParam('backbone.stages.2.concat_conv.bn.running_var').some((v) => v !== 1));
  tf.dispose([x, value, ...Object.values(grads)]);
  model.dispose();
  await backendsUnderTest();
});

test('predictRaw leaves no tensors behind, in inference and in a training step', () => {
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const start = tf.memory().numTensors;
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 1, inputShape: [32, 32], phi: 1, seed: 2 });
  tf.dispose(model.predictRaw(x));
  // inference keeps one folded filter and bias per BatchNorm convolution, nothing else
  const withFolds = tf.memory().numTensors;
  const bnConvs = model.graph.nodes.filter((n) => n.kind === 'conv' && n.batchNorm).length;
  assert.equal(withFolds, start + model.params.length + 2 * bnConvs);
  tf.dispose(model.predictRaw(x));
  const { value, grads } = tf.variableGrads(() => tf.sum(model.predictRaw(x, true)[1]) as tf.Scalar, model.trainableVariables());
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, withFolds);
  model.dispose();
  assert.equal(tf.memory().numTensors, start);
  tf.dispose(x);
});

test('inference follows every weight change (cached BatchNorm folds): assignments and training steps', async () => {
  for (const backend of await trainingBackends()) {
    await useBackend(backend);
    const opts: CreateYoloOptions = { variant: 'yolov4-tiny', numClasses: 1, inputShape: [32, 32], seed: 5 };
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const start = tf.memory().numTensors;
    const model = createYolo(opts);
    const infer = (m: Yolo): Float32Array[] => {
      const outs = m.predictRaw(x);
      const v = outs.map((o) => o.dataSync() as Float32Array);
      tf.dispose(outs);
      return v;
    };
    // truth: a new model (no folds yet) given the model's current weights
    const fresh = (): Float32Array[] => {
      const m = createYolo(opts);
      for (const p of model.params) m.writeParam(p.key, model.readParam(p.key));
      const v = infer(m);
      m.dispose();
      return v;
    };
    const check = (actual: Float32Array[], what: string) => {
      const expected = fresh();
      actual.forEach((a, i) => assertAllClose(a, expected[i], { rtol: 1e-5, atol: 1e-6, what: `${backend} ${what} level ${i}` }));
    };
    const first = infer(model);
    const held = tf.memory().numTensors;
    assert.deepEqual(infer(model), first, `${backend}: a second inference differs`);
    // assignments, as a checkpoint or Darknet load makes them: one BN statistic, one filter
    const mean = 'backbone.resblock_body1.conv1.bn.running_mean';
    model.writeParam(mean, model.readParam(mean).map((_, i) => 0.05 * i));
    const w = 'backbone.conv2.conv.weight';
    model.writeParam(w, model.readParam(w).map((v) => -2 * v));
    const assigned = infer(model);
    assert.notDeepEqual(assigned[0], first[0], `${backend}: inference ignored the new weights`);
    check(assigned, 'after assignments');
    assert.equal(tf.memory().numTensors, held, `${backend}: stale folds were not freed`);
    // a training step moves filters, γ, β and the running statistics
    const sgd = tf.train.sgd(0.05);
    const cost = sgd.minimize(() => tf.addN(model.predictRaw(x, true).map((o) => tf.mean(tf.square(o)))) as tf.Scalar, true,
      model.trainableVariables());
    tf.dispose(cost ?? []);
    sgd.dispose();
    const trained = infer(model);
    assert.notDeepEqual(trained[0], assigned[0], `${backend}: inference ignored the training step`);
    check(trained, 'after a training step');
    assert.equal(tf.memory().numTensors, held, `${backend}: stale folds were not freed`);
    model.dispose();
    assert.equal(tf.memory().numTensors, start, `${backend}: dispose left folds behind`);
    x.dispose();
  }
  await backendsUnderTest();
});
