// The torch backend's plumbing: registration, threads, errors, the cpu fallback, and memory that
// follows tfjs's disposals (50 training steps of a small conv-net leave tensors and RSS flat).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index.js';
import { ADDON_PATH, loadTorchAddon } from './torch-addon.js';
import { fallbackKernelsUsed, setTorchThreads, torchThreads } from './torch.js';
import { assertAllClose, skipWithoutTorchAddon } from '../../test/helpers.js';

const skip = skipWithoutTorchAddon(ADDON_PATH);

test('initBackend starts torch, which runs ops and reads values back', { skip }, async () => {
  assert.equal(await initBackend({ prefer: 'torch', quiet: true }), 'torch');
  assert.equal(tf.getBackend(), 'torch');
  const y = tf.add(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.scalar(10));
  assert.deepEqual(Array.from(await y.data()), [11, 12, 13, 14]);
  assert.deepEqual(Array.from(tf.tensor1d([true, false], 'bool').dataSync()), [1, 0]);
  assert.deepEqual(tf.tensor1d(['a', 'b'], 'string').dataSync(), ['a', 'b']);
  y.dispose();
  // tf.removeBackend frees what the backend still held, and the backend registers again.
  const held = loadTorchAddon().live().tensors;
  assert.ok(held >= 3, `native tensors held before removeBackend: ${held}`);
  tf.removeBackend('torch');
  assert.equal(loadTorchAddon().live().tensors, 0, 'native tensors after removeBackend');
  assert.equal(await initBackend({ prefer: 'torch', quiet: true }), 'torch');
  assert.deepEqual(Array.from(tf.mul(tf.tensor1d([2, 3]), 2).dataSync()), [4, 6]);
});

test('threads follow the option, FOCAL_YOLO_THREADS and setTorchThreads; bad values are one-line errors', { skip }, async () => {
  const saved = process.env.FOCAL_YOLO_THREADS;
  try {
    process.env.FOCAL_YOLO_THREADS = '1';
    await initBackend({ prefer: 'torch', quiet: true });
    assert.equal(torchThreads(), 1);
    setTorchThreads(2);
    assert.equal(torchThreads(), 2);
    assert.throws(() => setTorchThreads(0), /^Error: threads=0 is not a positive integer/);
    process.env.FOCAL_YOLO_THREADS = 'many';
    await assert.rejects(initBackend({ prefer: 'torch', quiet: true }), /FOCAL_YOLO_THREADS=many is not a positive integer/);
  } finally {
    if (saved === undefined) delete process.env.FOCAL_YOLO_THREADS;
    else process.env.FOCAL_YOLO_THREADS = saved;
  }
  await initBackend({ prefer: 'torch', quiet: true });
});

test('a libtorch exception becomes a JS error with its message; unsupported attributes name the kernel', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const addon = loadTorchAddon();
  const a = addon.create(new Float32Array(6), [2, 3], 0);
  const b = addon.create(new Float32Array(4), [4], 0);
  assert.throws(() => addon.op('Add', [a, b]), /^Error: Add: The size of tensor a \(3\) must match the size of tensor b \(4\)/);
  assert.throws(() => addon.op('NoSuchKernel', [a]), /no native kernel named 'NoSuchKernel'/);
  addon.free(a);
  addon.free(b);
  const x = tf.zeros([1, 3, 4, 4]) as tf.Tensor4D;
  assert.throws(() => tf.conv2d(x, tf.zeros([1, 1, 3, 2]) as tf.Tensor4D, 1, 'same', 'NCHW'), /Conv2D: dataFormat 'NCHW' is not supported by the torch backend/);
  assert.throws(() => tf.complex([1], [2]).add(1), /complex64/);
});

test('a kernel without a native version falls back to cpu, correctly, with one warning naming it', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (msg: unknown) => warnings.push(String(msg));
  try {
    for (let i = 0; i < 3; i++) {
      const { values, indices } = tf.topk(tf.tensor1d([3, 9, 1, 7]), 2);
      assert.deepEqual(Array.from(values.dataSync()), [9, 7]);
      assert.deepEqual(Array.from(indices.dataSync()), [1, 3]);
    }
  } finally {
    console.warn = original;
  }
  assert.equal(warnings.filter((w) => w.includes("'TopK'")).length, 1, `warnings: ${warnings.join(' | ')}`);
  assert.ok(fallbackKernelsUsed().includes('TopK'));
});

test('memory: 50 training steps of a small conv-net leave tf.memory(), native tensors and RSS flat', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const addon = loadTorchAddon();
  const w1 = tf.variable(tf.randomNormal([3, 3, 3, 16], 0, 0.1));
  const w2 = tf.variable(tf.randomNormal([3, 3, 16, 32], 0, 0.1));
  const w3 = tf.variable(tf.randomNormal([1, 1, 32, 4], 0, 0.1));
  const optimizer = tf.train.adam(1e-3);
  const images = tf.randomUniform([8, 64, 64, 3]) as tf.Tensor4D;
  const target = tf.randomUniform([8, 16, 16, 4]);
  const step = (): number => {
    const loss = optimizer.minimize(() => {
      let h = tf.leakyRelu(tf.conv2d(images, w1 as tf.Tensor4D, 1, 'same'), 0.1);
      h = tf.maxPool(h, 2, 2, 'same');
      h = tf.leakyRelu(tf.conv2d(h, w2 as tf.Tensor4D, 2, 'same'), 0.1);
      const out = tf.conv2d(h, w3 as tf.Tensor4D, 1, 'same');
      return tf.mean(tf.square(tf.sub(tf.sigmoid(out), target)));
    }, true);
    const value = loss!.dataSync()[0];
    loss!.dispose();
    return value;
  };
  const losses: number[] = [];
  for (let i = 0; i < 10; i++) losses.push(step());
  const tensors = tf.memory().numTensors;
  const native = addon.live();
  const rss = process.memoryUsage().rss;
  for (let i = 10; i < 50; i++) losses.push(step());
  const grownMB = (process.memoryUsage().rss - rss) / 2 ** 20;
  assert.equal(tf.memory().numTensors, tensors, 'tfjs tensors after 50 steps');
  assert.deepEqual(addon.live(), native, 'native tensors and bytes after 50 steps');
  // One step allocates ~10 MB of activations and gradients; a leak of them would show as hundreds of MB.
  assert.ok(grownMB < 48, `RSS grew ${grownMB.toFixed(1)} MB over 40 steps`);
  assert.ok(losses[49] < losses[0], `training reduces the loss (${losses[0]} → ${losses[49]})`);
  tf.dispose([w1, w2, w3, images, target]);
  optimizer.dispose();
});

test('tf.profile reports each native kernel\'s own time (the backend times synchronously)', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const x = tf.randomNormal([4, 64, 64, 32]) as tf.Tensor4D;
  const filter = tf.randomNormal([3, 3, 32, 64]) as tf.Tensor4D;
  const t0 = performance.now();
  const info = await tf.profile(() => tf.tidy(() => tf.sum(tf.conv2d(x, filter, 1, 'same')).dataSync()));
  const wall = performance.now() - t0;
  const times = info.kernels.map((k) => k.kernelTimeMs as number);
  assert.deepEqual(info.kernels.map((k) => k.name), ['Conv2D', 'Sum']);
  assert.ok(times.every((ms) => Number.isFinite(ms) && ms >= 0), `kernel times ${times.join(', ')}`);
  // The convolution (~0.6 GFLOP) cannot take under 0.1 ms; the kernels together cannot outlast the call.
  assert.ok(times[0] > 0.1, `Conv2D took ${times[0]} ms`);
  assert.ok(times[0] + times[1] <= wall, `kernel times ${times.join(' + ')} ms within the ${wall.toFixed(1)} ms call`);
  tf.dispose([x, filter]);
});

/** 'same' 3×3 convolution, stride 1, batch 1, by definition: x [h, w, c], f [3, 3, c, o]. */
function conv3x3(x: Float32Array, f: Float32Array, h: number, w: number, c: number, o: number): Float32Array {
  const y = new Float32Array(h * w * o);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < o; k++) {
    let s = 0;
    for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) {
      const a = i + di - 1, b = j + dj - 1;
      if (a < 0 || b < 0 || a >= h || b >= w) continue;
      for (let ci = 0; ci < c; ci++) s += x[(a * w + b) * c + ci] * f[((di * 3 + dj) * c + ci) * o + k];
    }
    y[(i * w + j) * o + k] = s;
  }
  return y;
}

test('a filter is converted to ATen\'s layout once; the copy goes with the filter, and a reused id gets its own', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const addon = loadTorchAddon();
  const x = tf.randomUniform([1, 5, 6, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  const base = addon.live().convertedWeights;
  for (let k = 0; k < 3; k++) {
    const f = tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 10 + k) as tf.Tensor4D;
    const want = conv3x3(x.dataSync() as Float32Array, f.dataSync() as Float32Array, 5, 6, 3, 4);
    for (let r = 0; r < 2; r++) {
      const y = tf.conv2d(x, f, 1, 'same');
      assertAllClose(y.dataSync(), want, { rtol: 1e-5, atol: 1e-5, what: `filter ${k}, call ${r}` });
      y.dispose();
      assert.equal(addon.live().convertedWeights, base + 1, `filter ${k}, call ${r}: converted copies held`);
    }
    f.dispose();
    assert.equal(addon.live().convertedWeights, base, `filter ${k}: its converted copy outlived it`);
  }
  x.dispose();
});
