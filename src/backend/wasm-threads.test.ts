// The multi-threaded wasm build through the Node shim. Node's test runner gives each file its own
// process, and the thread count is fixed per process, so this file starts wasm with 2 threads first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertAllClose } from '../../test/helpers.js';
import { initBackend } from './index.js';
import { configureWasm, wasmThreads } from './wasm.js';
import { filterGradientHelpers } from './wasm-filter-grad.js';
import { asWasmBackend } from './wasm-internals.js';

/** Deterministic values in [-1, 1). */
function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.sin(seed * 12.9898 + i * 78.233) * 0.999;
  return out;
}

/** Gradients of mean(conv(relu(conv(x, w1)), w2, stride 2)) w.r.t. x, w1, w2 on the active backend. */
function netGradients(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(2 * 17 * 16 * 8, 1), [2, 17, 16, 8]);
    const w1 = tf.tensor4d(values(3 * 3 * 8 * 16, 2), [3, 3, 8, 16]);
    const w2 = tf.tensor4d(values(3 * 3 * 16 * 12, 3), [3, 3, 16, 12]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.mean(tf.conv2d(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')), c as tf.Tensor4D, 2, 'same'));
    return tf.grads(f)([x, w1, w2]).map((g) => g.dataSync() as Float32Array);
  });
}

test('wasm starts with 2 threads in Node and its conv gradients match the cpu backend', async () => {
  assert.equal(await initBackend({ prefer: 'wasm', threads: 2, quiet: true }), 'wasm');
  assert.equal(wasmThreads(), 2);
  const threaded = netGradients();
  await initBackend({ prefer: 'cpu', quiet: true });
  const expected = netGradients();
  threaded.forEach((g, i) => {
    const scale = Math.max(...expected[i].map(Math.abs));
    assertAllClose(g, expected[i], { rtol: 1e-4, atol: 1e-4 * scale, what: `gradient ${i}` });
  });
});

/** Conv2DBackpropFilter on the active backend for x [2, 40, 36, 16] → 20 channels (8.3 M multiply-adds). */
function largeFilterGradient(stride: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(2 * 40 * 36 * 16, 4), [2, 40, 36, 16]);
    const yShape = [2, Math.ceil(40 / stride), Math.ceil(36 / stride), 20];
    const dy = tf.tensor4d(values(yShape.reduce((a, b) => a * b), 5), yShape as [number, number, number, number]);
    const attrs = { strides: [stride, stride], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [3, 3, 16, 20] };
    return (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
  });
}

test('the filter gradient splits large problems between the calling thread and a helper thread', async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
  assert.equal(filterGradientHelpers(asWasmBackend(tf.backend(), 'test')), 1);
  largeFilterGradient(1); // the helper's first job also instantiates its kernel
  const before = tf.backend().numDataIds();
  const threaded = [1, 2].map(largeFilterGradient);
  assert.equal(tf.backend().numDataIds(), before, 'intermediate wasm buffers freed');
  await initBackend({ prefer: 'cpu', quiet: true });
  const expected = [1, 2].map(largeFilterGradient);
  threaded.forEach((g, i) => {
    const scale = Math.max(...expected[i].map(Math.abs));
    assertAllClose(g, expected[i], { rtol: 1e-4, atol: 1e-4 * scale, what: `stride ${i + 1}` });
  });
});

/** Conv2DBackpropInput with few input channels (x [n, h, w, ci], 3×3 → 5) on the active backend. */
function fewChannelInputGradient(shape: [number, number, number, number], stride: number, pad: 'same' | 'valid'): Float32Array {
  return tf.tidy(() => {
    const [n, h, w, ci] = shape;
    const out = (size: number) => (pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - 3) / stride) + 1);
    const yShape: [number, number, number, number] = [n, out(h), out(w), 5];
    const dy = tf.tensor4d(values(yShape.reduce((a, b) => a * b), 6), yShape);
    const filter = tf.tensor4d(values(3 * 3 * ci * 5, 7), [3, 3, ci, 5]);
    const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: shape };
    return (tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
  });
}

test('the few-channel input gradient shares its work with the helper thread and matches cpu', async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
  const cases: [[number, number, number, number], number, 'same' | 'valid'][] = [
    // 3 channels (KW·Ci = 9): the fused kernel, dx rows split between the threads.
    [[2, 299, 300, 3], 2, 'same'],
    [[1, 201, 202, 3], 1, 'valid'],
    // 5 channels (KW·Ci = 15): GEMM + col2im, dcols of 2·150·150 (stride 2) and 1·199·200 (stride 1)
    // windows of 45 values (> 2^20 floats: 2 chunks each, the first ending inside the second image),
    // chunk 0's col2im on the helper during chunk 1's GEMM.
    [[2, 300, 299, 5], 2, 'same'],
    [[1, 199, 200, 5], 1, 'same'],
  ];
  const before = tf.backend().numDataIds();
  const threaded = cases.map((c) => fewChannelInputGradient(...c));
  assert.equal(tf.backend().numDataIds(), before, 'intermediate wasm buffers freed');
  await initBackend({ prefer: 'cpu', quiet: true });
  const expected = cases.map((c) => fewChannelInputGradient(...c));
  threaded.forEach((g, i) => {
    const scale = expected[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertAllClose(g, expected[i], { rtol: 1e-4, atol: 1e-4 * scale, what: `case ${i}` });
  });
});

test('the thread count is fixed per process: a different count later is a clear error', async () => {
  await assert.rejects(configureWasm({ threads: 1 }), /threads=1: the wasm backend already started with 2 thread\(s\)/);
  await assert.rejects(configureWasm({ threads: 0 }), /threads=0 is not a positive integer/);
  await configureWasm({ threads: 2 });
  await configureWasm();
  assert.equal(await initBackend({ prefer: 'wasm', quiet: true }), 'wasm');
  assert.equal(wasmThreads(), 2);
});
