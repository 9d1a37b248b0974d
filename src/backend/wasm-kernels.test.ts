import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertAllClose, useBackend } from '../../test/helpers.js';
import { registerWasmKernels, WASM_KERNELS } from './wasm-kernels.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

/** Deterministic values in [-1, 1) (mulberry32), so both backends see the same data. */
function randomValues(size: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

interface Case {
  x: Shape4;
  k: number;
  co: number;
  stride: number;
  pad: Pad;
}

/** Both gradient kernels on the active backend, as plain arrays. */
function gradients(c: Case, seed: number): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const filterShape: Shape4 = [c.k, c.k, c.x[3], c.co];
    const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.x), seed), c.x);
    const w = tf.tensor4d(randomValues(tf.util.sizeFromShape(filterShape), seed + 1), filterShape);
    const yShape = tf.conv2d(x, w, c.stride, c.pad).shape;
    const dy = tf.tensor4d(randomValues(tf.util.sizeFromShape(yShape), seed + 2), yShape);
    const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/** Relative error < 1e-4: |a − b| ≤ 1e-4 · (|b| + max|b|). */
function assertRelClose(actual: Float32Array, expected: Float32Array, what: string): void {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  assert.ok(scale > 0, `${what}: the reference is all zeros, the case tests nothing`);
  assertAllClose(actual, expected, { rtol: 1e-4, atol: 1e-4 * scale, what });
}

async function compareWithCpu(c: Case, seed: number): Promise<void> {
  await useBackend('cpu');
  const expected = gradients(c, seed);
  await useBackend('wasm');
  const actual = gradients(c, seed);
  const name = `x [${c.x}] ${c.k}x${c.k}→${c.co} stride ${c.stride} pad ${JSON.stringify(c.pad)}`;
  assertRelClose(actual.dx, expected.dx, `Conv2DBackpropInput ${name}`);
  assertRelClose(actual.dw, expected.dw, `Conv2DBackpropFilter ${name}`);
}

test('wasm conv-gradient kernels match the cpu backend over shapes, strides and paddings', async () => {
  const pads: Pad[] = ['same', 'valid', 1, [[0, 0], [2, 0], [0, 1], [0, 0]]];
  const spatial: [number, number][] = [[7, 7], [8, 8], [6, 9]];
  let seed = 1;
  let cases = 0;
  // 3 input channels take the GEMM + col2im path of Conv2DBackpropInput, 9 the phase convolutions.
  for (const ci of [3, 9]) {
    for (const [h, w] of spatial) {
      for (const k of [1, 2, 3, 5]) {
        for (const stride of [1, 2]) {
          for (const pad of pads) {
            await compareWithCpu({ x: [2, h, w, ci], k, co: 4, stride, pad }, seed++);
            cases++;
          }
        }
      }
    }
  }
  assert.equal(cases, 192);
});

test('wasm conv-gradient kernels match cpu at YOLO-like channel counts and odd strides', async () => {
  await compareWithCpu({ x: [1, 13, 13, 32], k: 3, co: 48, stride: 1, pad: 'same' }, 101);
  await compareWithCpu({ x: [2, 12, 10, 16], k: 3, co: 8, stride: 2, pad: 'same' }, 102);
  await compareWithCpu({ x: [1, 11, 11, 5], k: 3, co: 6, stride: 3, pad: 'valid' }, 103);
  await compareWithCpu({ x: [1, 11, 11, 12], k: 3, co: 6, stride: 3, pad: 'valid' }, 105);
  await compareWithCpu({ x: [1, 10, 10, 24], k: 1, co: 20, stride: 1, pad: 'valid' }, 104);
});

test('the chunked GEMM paths split large problems into chunks that add up to the whole', async () => {
  // Few channels (GEMM + col2im for dx): 27·(200·200) > 2^20, also split mid-row.
  await compareWithCpu({ x: [1, 200, 200, 3], k: 3, co: 4, stride: 1, pad: 'same' }, 202);
  // The stem's case (stride 2, 'same' padding only after): 27·(2·150·150) > 2^20, split mid-row at ox 136;
  // col2im's contiguous-window runs and its edge taps both cross the chunk boundary.
  await compareWithCpu({ x: [2, 299, 300, 3], k: 3, co: 5, stride: 2, pad: 'same' }, 203);
});

test('the direct filter-gradient kernel: odd sizes, padding borders, tap and channel tails', async () => {
  // Taps (K·K·Ci) not a multiple of 4 and Co not a multiple of 8 or 4: padded blocks, the copied last dy row.
  await compareWithCpu({ x: [3, 5, 7, 1], k: 3, co: 1, stride: 1, pad: 'same' }, 301);
  await compareWithCpu({ x: [2, 9, 11, 5], k: 3, co: 3, stride: 2, pad: 'same' }, 302);
  await compareWithCpu({ x: [1, 8, 9, 7], k: 3, co: 17, stride: 1, pad: [[0, 0], [3, 1], [0, 2], [0, 0]] }, 303);
  await compareWithCpu({ x: [2, 10, 10, 6], k: 2, co: 13, stride: 2, pad: 'valid' }, 304);
  // Input rows/columns that no window reaches ('valid', stride 3), and one output pixel in all (only the
  // copied last row runs).
  await compareWithCpu({ x: [1, 11, 12, 4], k: 3, co: 9, stride: 3, pad: 'valid' }, 305);
  await compareWithCpu({ x: [1, 3, 3, 2], k: 3, co: 5, stride: 1, pad: 'valid' }, 306);
  // Padding wider than the input on one side, a 5×5 filter over a 4×4 image.
  await compareWithCpu({ x: [2, 4, 4, 3], k: 5, co: 8, stride: 1, pad: [[0, 0], [4, 0], [0, 4], [0, 0]] }, 307);
  // Co a multiple of 8 (no tail), several channel blocks; 1×1.
  await compareWithCpu({ x: [2, 6, 5, 12], k: 1, co: 24, stride: 1, pad: 'valid' }, 308);
  // An empty batch: a zero gradient of the filter's shape.
  await useBackend('wasm');
  const dw = tf.tidy(() => {
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [3, 3, 2, 5] } as unknown as tf.NamedAttrMap;
    return (tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.zeros([0, 4, 4, 2]), dy: tf.zeros([0, 4, 4, 5]) }, attrs) as tf.Tensor).dataSync();
  });
  assert.deepEqual(Array.from(dw), new Array(90).fill(0));
});

test('tf.grad of a small conv net (conv→relu→conv stride 2→mean) agrees on wasm and cpu', async () => {
  const xShape: Shape4 = [2, 9, 10, 3];
  const w1Shape: Shape4 = [3, 3, 3, 8];
  const w2Shape: Shape4 = [3, 3, 8, 6];
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(xShape), 7), xShape);
      const w1 = tf.tensor4d(randomValues(tf.util.sizeFromShape(w1Shape), 8), w1Shape);
      const w2 = tf.tensor4d(randomValues(tf.util.sizeFromShape(w2Shape), 9), w2Shape);
      const net = (xi: tf.Tensor4D, a: tf.Tensor4D, b: tf.Tensor4D) =>
        tf.mean(tf.conv2d(tf.relu(tf.conv2d(xi, a, 1, 'same')), b, 2, 'same'));
      const grads = tf.grads((xi: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => net(xi as tf.Tensor4D, a as tf.Tensor4D, b as tf.Tensor4D))([x, w1, w2]);
      return grads.map((g) => g.dataSync() as Float32Array);
    });
  await useBackend('cpu');
  const expected = run();
  await useBackend('wasm');
  const actual = run();
  ['d/dx', 'd/dw1', 'd/dw2'].forEach((what, i) => assertRelClose(actual[i], expected[i], what));
});

test('unsupported attributes are a one-line error naming the kernel and the attribute', async () => {
  await useBackend('wasm');
  const x = tf.zeros([1, 5, 5, 2]);
  const dy = tf.zeros([1, 5, 5, 3]);
  const filter = tf.zeros([3, 3, 2, 3]);
  const base = { strides: [1, 1], pad: 'same', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...base, dataFormat: 'NHWC', dilations: [2, 2], filterShape: [3, 3, 2, 3] }),
    /^Error: Conv2DBackpropFilter on wasm: dilations \[2,2\] are not supported; use dilation 1\.$/,
  );
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...base, dataFormat: 'NCHW', inputShape: [1, 5, 5, 2] }),
    /Conv2DBackpropInput on wasm: dataFormat 'NCHW' is not supported; use 'NHWC'/,
  );
  tf.dispose([x, dy, filter]);
});

test('registerWasmKernels installs our kernels once and is idempotent', async () => {
  await useBackend('wasm');
  registerWasmKernels();
  registerWasmKernels();
  for (const config of WASM_KERNELS) {
    assert.equal(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelFunc, config.kernelName);
  }
});

test('the kernels free all their intermediate wasm buffers (every path)', async () => {
  await useBackend('wasm');
  const cases: Case[] = [
    { x: [1, 9, 8, 12], k: 3, co: 5, stride: 2, pad: 'same' }, // phase convolutions
    { x: [1, 6, 6, 9], k: 3, co: 4, stride: 1, pad: [[0, 0], [0, 2], [3, 0], [0, 0]] }, // cropped dy
    { x: [1, 7, 7, 3], k: 3, co: 4, stride: 2, pad: 'valid' }, // GEMM + col2im
    { x: [2, 64, 64, 8], k: 3, co: 4, stride: 1, pad: 'same' }, // filter gradient: copied last dy row
    { x: [1, 6, 5, 10], k: 1, co: 8, stride: 1, pad: 'valid' }, // filter gradient: no channel tail
  ];
  gradients(cases[0], 1); // warm-up: tfjs and XNNPACK caches
  const before = tf.backend().numDataIds();
  for (const c of cases) gradients(c, 3);
  assert.equal(tf.backend().numDataIds(), before);
});
