// Kernel harness for the torch backend: every native kernel against tfjs's cpu backend on the same
// random inputs, over shapes, broadcasts, dtypes and attributes (relative error < 1e-5), and a
// check through tf.profile that the kernel really ran natively (no fallback).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index.js';
import { ADDON_PATH } from './torch-addon.js';
import { NATIVE_KERNELS, fallbackKernelsUsed } from './torch.js';
import { assertAllClose, skipWithoutTorchAddon } from '../../test/helpers.js';

/** Deterministic inputs: a small LCG so cpu and torch see identical values. */
function makeRandom(seed: number): (n: number, lo?: number, hi?: number) => number[] {
  let s = seed >>> 0;
  return (n, lo = -2, hi = 2) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      out.push(lo + ((s >>> 8) / 2 ** 24) * (hi - lo));
    }
    return out;
  };
}

type Build = () => tf.Tensor | tf.Tensor[];
/** `reference`, when given, computes the expected values on cpu another way (for cpu kernels that are wrong). */
interface Case { name: string; kernels: string[]; build: Build; rtol?: number; atol?: number; reference?: Build }

const cases: Case[] = [];
function add(name: string, kernels: string[], build: Build, extra: { rtol?: number; atol?: number; reference?: Build } = {}): void {
  cases.push({ name, kernels, build, ...extra });
}

// Reseeded before every run of a case, so each backend sees the same inputs.
let r = makeRandom(42);
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const randn = (shape: number[], lo = -2, hi = 2): number[] => r(size(shape), lo, hi);
const randi = (shape: number[], lo: number, hi: number): number[] => r(size(shape), lo, hi).map(Math.floor);
const f32 = (shape: number[], lo = -2, hi = 2): Build => () => tf.tensor(randn(shape, lo, hi), shape);

// ---- elementwise unary ----
const unaryDomains: [string, (x: tf.Tensor) => tf.Tensor, number, number][] = [
  ['Abs', tf.abs, -3, 3], ['Acos', tf.acos, -0.9, 0.9], ['Acosh', tf.acosh, 1.1, 4], ['Asin', tf.asin, -0.9, 0.9],
  ['Asinh', tf.asinh, -3, 3], ['Atan', tf.atan, -3, 3], ['Atanh', tf.atanh, -0.9, 0.9], ['Ceil', tf.ceil, -3, 3],
  ['Cos', tf.cos, -3, 3], ['Cosh', tf.cosh, -3, 3], ['Elu', tf.elu, -3, 3], ['Erf', tf.erf, -2, 2], ['Exp', tf.exp, -5, 5],
  ['Expm1', tf.expm1, -3, 3], ['Floor', tf.floor, -3, 3], ['Log', tf.log, 0.01, 9], ['Log1p', tf.log1p, -0.9, 9],
  ['Neg', tf.neg, -3, 3], ['Reciprocal', tf.reciprocal, 0.1, 5], ['Relu', tf.relu, -3, 3], ['Relu6', tf.relu6, -3, 9],
  ['Round', tf.round, -3, 3], ['Rsqrt', tf.rsqrt, 0.05, 9], ['Selu', tf.selu, -3, 3], ['Sigmoid', tf.sigmoid, -9, 9],
  ['Sign', tf.sign, -3, 3], ['Sin', tf.sin, -3, 3], ['Sinh', tf.sinh, -3, 3], ['Softplus', tf.softplus, -30, 30],
  ['Sqrt', tf.sqrt, 0, 9], ['Square', tf.square, -3, 3], ['Tan', tf.tan, -1.2, 1.2], ['Tanh', tf.tanh, -5, 5],
];
for (const [kernel, op, lo, hi] of unaryDomains) {
  const data = [...randn([3, 7], lo, hi), lo, hi, (lo + hi) / 2];
  add(`${kernel} float32 [24]`, [kernel], () => op(tf.tensor1d(data)), kernel === 'Erf' ? { atol: 1e-6 } : {});
}
add('Round halves to even', ['Round'], () => tf.round(tf.tensor1d([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])));
add('Abs/Neg/Square/Relu int32', ['Abs', 'Neg', 'Square', 'Relu'], () => {
  const x = tf.tensor1d(randi([12], -9, 9), 'int32');
  return [tf.abs(x), tf.neg(x), tf.square(x), tf.relu(x)];
});
add('IsNan/IsInf/IsFinite/LogicalNot', ['IsNan', 'IsInf', 'IsFinite', 'LogicalNot'], () => {
  const x = tf.tensor1d([0, 1, NaN, Infinity, -Infinity, -2]);
  return [tf.isNaN(x), tf.isInf(x), tf.isFinite(x), tf.logicalNot(tf.tensor1d([true, false, true], 'bool'))];
});
add('Step / LeakyRelu / ClipByValue / Prelu', ['Step', 'LeakyRelu', 'ClipByValue', 'Prelu'], () => {
  const x = tf.tensor2d(randn([4, 5]), [4, 5]);
  return [tf.step(x, 0.3), tf.leakyRelu(x, 0.1), tf.clipByValue(x, -0.5, 0.7), tf.prelu(x, tf.tensor1d(randn([5])) as unknown as tf.Tensor2D)];
});
add('EluGrad (gradient of elu)', ['EluGrad'], () => {
  const x = tf.tensor1d(randn([20], -3, 3));
  const w = tf.tensor1d(randn([20]));
  return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.elu(a), w)))(x);
});
add('Cast float32→int32→bool→float32', ['Cast'], () => {
  const x = tf.tensor1d([-2.7, -0.5, 0, 0.4, 3.9]);
  const i = tf.cast(x, 'int32');
  const b = tf.cast(i, 'bool');
  return [i, b, tf.cast(b, 'float32'), tf.cast(x, 'bool')];
});
add('OnesLike / ZerosLike / Identity', ['OnesLike', 'ZerosLike', 'Identity'], () => {
  const x = tf.tensor2d(randn([2, 3]), [2, 3]);
  return [tf.onesLike(x), tf.zerosLike(tf.tensor1d([1, 2], 'int32')), tf.clone(x)];
});

// ---- elementwise binary with broadcasting ----
const binaryOps: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['Add', tf.add], ['Sub', tf.sub], ['Multiply', tf.mul], ['RealDiv', tf.div], ['Maximum', tf.maximum],
  ['Minimum', tf.minimum], ['SquaredDifference', tf.squaredDifference], ['Pow', tf.pow], ['Atan2', tf.atan2],
  ['FloorDiv', tf.floorDiv], ['Mod', tf.mod], ['Equal', tf.equal], ['NotEqual', tf.notEqual], ['Less', tf.less],
  ['LessEqual', tf.lessEqual], ['Greater', tf.greater], ['GreaterEqual', tf.greaterEqual],
];
const broadcasts: [number[], number[]][] = [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[], [2, 3]]];
for (const [kernel, op] of binaryOps) {
  for (const [sa, sb] of broadcasts) {
    const positive = kernel === 'Pow';
    add(`${kernel} float32 [${sa}]·[${sb}]`, [kernel], () =>
      op(tf.tensor(randn(sa, positive ? 0.1 : -3, 3), sa), tf.tensor(randn(sb, positive ? -2 : 0.5, 3), sb)));
  }
  if (!['Atan2', 'Pow', 'RealDiv'].includes(kernel)) {
    add(`${kernel} int32 [3,4]·[4]`, [kernel], () =>
      op(tf.tensor(randi([3, 4], -9, 9), [3, 4], 'int32'), tf.tensor(randi([4], 1, 5).map((v, i) => (i % 2 ? -v : v)), [4], 'int32')));
  }
}
add('LogicalAnd / LogicalOr / LogicalXor (broadcast)', ['LogicalAnd', 'LogicalOr'], () => {
  const a = tf.tensor2d([true, false, true, false, true, true], [2, 3], 'bool');
  const b = tf.tensor1d([true, false, false], 'bool');
  return [tf.logicalAnd(a, b), tf.logicalOr(a, b), tf.logicalXor(a, b)];
});
add('AddN', ['AddN'], () => tf.addN([f32([3, 4])() as tf.Tensor, f32([3, 4])() as tf.Tensor, f32([3, 4])() as tf.Tensor]));

// ---- reductions ----
const reductions: [string, (x: tf.Tensor, axis?: number | number[], keep?: boolean) => tf.Tensor][] = [
  ['Sum', tf.sum], ['Prod', tf.prod], ['Mean', tf.mean], ['Max', tf.max], ['Min', tf.min],
];
for (const [kernel, op] of reductions) {
  for (const [axis, keep] of [[undefined, false], [1, false], [[0, 2], true], [-1, true]] as [number | number[] | undefined, boolean][]) {
    add(`${kernel} float32 axis ${JSON.stringify(axis)} keepDims ${keep}`, [kernel], () =>
      op(tf.tensor3d(randn([3, 4, 5], 0.5, 1.5), [3, 4, 5]), axis, keep));
  }
  add(`${kernel} int32 axis 0`, [kernel], () => op(tf.tensor2d(randi([4, 3], -5, 5), [4, 3], 'int32'), 0));
}
add('Sum of bool counts as int32', ['Sum'], () => tf.sum(tf.tensor2d([true, false, true, true], [2, 2], 'bool'), 1));
add('All / Any', ['All', 'Any'], () => {
  const x = tf.tensor2d([true, false, true, true, true, true], [2, 3], 'bool');
  return [tf.all(x, 1), tf.any(x, 0), tf.all(x), tf.any(tf.logicalNot(x), 1, true)];
});
add('ArgMax / ArgMin (first of ties)', ['ArgMax', 'ArgMin'], () => {
  const x = tf.tensor3d([...randn([2, 3, 4]).slice(0, 20), 5, 5, -5, -5], [2, 3, 4]);
  return [tf.argMax(x, -1), tf.argMin(x, 1), tf.argMax(tf.tensor1d([1, 3, 3, 0]))];
});
add('Softmax', ['Softmax'], () => tf.softmax(tf.tensor2d(randn([4, 6], -10, 10), [4, 6])));
add('Cumsum / Cumprod exclusive and reverse', ['Cumsum', 'Cumprod'], () => {
  const x = tf.tensor2d(randn([3, 5], 0.5, 1.5), [3, 5]);
  return [tf.cumsum(x, 1), tf.cumsum(x, 0, true, false), tf.cumsum(x, 1, false, true), tf.cumsum(x, 1, true, true),
    tf.cumprod(x, 1), tf.cumprod(x, 0, true, true), tf.cumsum(tf.tensor1d([1, 2, 3], 'int32'))];
});

// ---- shapes and indexing ----
add('Reshape / ExpandDims / Transpose', ['Reshape', 'ExpandDims', 'Transpose'], () => {
  const x = tf.tensor3d(randn([2, 3, 4]), [2, 3, 4]);
  return [tf.expandDims(x, 1), tf.expandDims(x, -1), tf.reshape(x, [4, -1]), tf.transpose(x, [2, 0, 1]), tf.transpose(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'))];
});
add('Concat on each axis, with an empty input', ['Concat'], () => {
  const a = tf.tensor3d(randn([2, 3, 4]), [2, 3, 4]);
  const b = tf.tensor3d(randn([2, 3, 4]), [2, 3, 4]);
  return [tf.concat([a, b], 0), tf.concat([a, b, a], 1), tf.concat([a, b], -1), tf.concat([a, tf.zeros([2, 3, 0])], 2),
    tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')])];
});
add('Pack / Unpack', ['Pack', 'Unpack'], () => {
  const a = tf.tensor2d(randn([2, 3]), [2, 3]);
  const b = tf.tensor2d(randn([2, 3]), [2, 3]);
  return [tf.stack([a, b], 0), tf.stack([a, b], 2), ...tf.unstack(a, 1)];
});
add('SplitV by sizes and by count', ['SplitV'], () => {
  const x = tf.tensor3d(randn([2, 6, 3]), [2, 6, 3]);
  return [...tf.split(x, [1, 2, 3], 1), ...tf.split(x, 3, 1), ...tf.split(x, [2, -1], -1)];
});
add('Slice', ['Slice'], () => {
  const x = tf.tensor3d(randn([3, 4, 5]), [3, 4, 5]);
  return [tf.slice(x, [1, 0, 2], [2, -1, 2]), tf.slice(x, [0, 1, 0], [3, 2, 5]), tf.slice(tf.tensor1d([1, 2, 3], 'int32'), 1)];
});
add('StridedSlice with strides, negative strides and masks', ['StridedSlice'], () => {
  const x = tf.tensor3d(randn([4, 5, 6]), [4, 5, 6]);
  return [
    tf.stridedSlice(x, [0, 1, 0], [4, 5, 6], [2, 2, 3]),
    tf.stridedSlice(x, [3, 4, 5], [0, 0, 0], [-1, -2, -2]),
    tf.stridedSlice(x, [0, 0, 1], [0, 0, 2], [1, 1, 1], 3, 3, 0, 0, 4),
    tf.stridedSlice(x, [1, -1], [3, -6], [1, -1], 0, 0, 0, 1, 0),
    tf.stridedSlice(x, [0], [0], [1], 0, 0, 1, 0, 0),
  ];
});
add('PadV2', ['PadV2'], () => {
  const x = tf.tensor4d(randn([1, 3, 3, 2]), [1, 3, 3, 2]);
  return [tf.pad(x, [[0, 0], [1, 0], [0, 2], [0, 0]]), tf.pad(tf.tensor1d([1, 2], 'int32'), [[2, 1]], 7), tf.pad(x, [[1, 1], [0, 0], [1, 1], [3, 0]], -1.5)];
});
add('Tile / Reverse / BroadcastTo (as Tile)', ['Tile', 'Reverse'], () => {
  const x = tf.tensor2d(randn([2, 3]), [2, 3]);
  return [tf.tile(x, [2, 3]), tf.reverse(x, 1), tf.reverse(x), tf.broadcastTo(x, [4, 2, 3]), tf.broadcastTo(tf.tensor1d([1, 2], 'int32'), [3, 2])];
});
add('GatherV2 on each axis, 2-D indices', ['GatherV2'], () => {
  const x = tf.tensor3d(randn([4, 5, 3]), [4, 5, 3]);
  return [tf.gather(x, tf.tensor1d([3, 0, 0, 2], 'int32')), tf.gather(x, tf.tensor2d([[1, 4], [0, 2]], [2, 2], 'int32'), 1),
    tf.gather(x, tf.tensor1d([2, 1], 'int32'), -1)];
});
add('Select (same shape, rank-1 condition)', ['Select'], () => {
  const a = tf.tensor2d(randn([3, 4]), [3, 4]);
  const b = tf.tensor2d(randn([3, 4]), [3, 4]);
  return [tf.where(tf.greater(a, b), a, b), tf.where(tf.tensor2d([true, false, true], [3, 1], 'bool'), a, b),
    tf.where(tf.tensor1d([true, false], 'bool'), tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32'))];
});
add('Fill / Range / OneHot', ['Fill', 'Range', 'OneHot'], () => [
  tf.fill([2, 3], 1.5), tf.fill([4], 7, 'int32'), tf.range(0, 10, 3), tf.range(5, -1, -2, 'int32'), tf.range(0, 1, 0.1),
  tf.oneHot(tf.tensor1d([0, 2, -1, 5], 'int32'), 4), tf.oneHot(tf.tensor2d([[1, 0], [3, 2]], [2, 2], 'int32'), 4, 2, -1),
]);

// ---- neural-network kernels ----
type Conv = { x: number[]; f: number[]; stride: number | [number, number]; pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]]; dilation?: number };
const convs: Conv[] = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 5], stride: 2, pad: 'same' },
  { x: [1, 9, 9, 2], f: [3, 3, 2, 3], stride: 2, pad: 'valid' },
  { x: [2, 6, 6, 4], f: [1, 1, 4, 6], stride: 1, pad: 'same' },
  { x: [1, 7, 6, 2], f: [3, 2, 2, 3], stride: [2, 1], pad: 1 },
  { x: [1, 9, 9, 2], f: [3, 3, 2, 2], stride: 1, pad: 'same', dilation: 2 },
  { x: [1, 6, 6, 2], f: [3, 3, 2, 3], stride: 2, pad: [[0, 0], [1, 0], [1, 0], [0, 0]] },
];
for (const c of convs) {
  const label = `x[${c.x}] f[${c.f}] s${JSON.stringify(c.stride)} ${JSON.stringify(c.pad)} d${c.dilation ?? 1}`;
  const xs = randn(c.x);
  const fs = randn(c.f, -1, 1);
  // tfjs has no gradient for dilated convolutions; 1×1 convolutions' gradients are matmuls in tfjs.
  const withGrads = (c.dilation ?? 1) === 1;
  const kernels = withGrads ? ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] : ['Conv2D'];
  add(`conv2d and its gradients ${label}`, kernels, () => {
    const x = tf.tensor4d(xs, c.x as [number, number, number, number]);
    const f = tf.tensor4d(fs, c.f as [number, number, number, number]);
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, b, c.stride, c.pad, 'NHWC', c.dilation ?? 1);
    const y = conv(x, f);
    if (!withGrads) return [y];
    const w = tf.tensor(randn(y.shape), y.shape);
    const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), w)))([x, f]);
    return [y, gx, gf];
  }, { atol: 1e-5 });
}
add('FusedConv2D with bias and each activation', ['FusedConv2D'], () => {
  const x = tf.tensor4d(randn([1, 6, 6, 3]), [1, 6, 6, 3]);
  const f = tf.tensor4d(randn([3, 3, 3, 4], -1, 1), [3, 3, 3, 4]);
  const bias = tf.tensor1d(randn([4]));
  const acts = ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const;
  return [...acts.map((activation) => tf.fused.conv2d({ x, filter: f, strides: 2, pad: 'same', bias, activation, leakyreluAlpha: 0.1 })),
    tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'valid', activation: 'prelu', preluActivationWeights: tf.tensor1d(randn([4])) })];
}, { atol: 1e-5 });
add('DepthwiseConv2dNative and its gradients', ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'], () => {
  const x = tf.tensor4d(randn([2, 6, 6, 3]), [2, 6, 6, 3]);
  const f = tf.tensor4d(randn([3, 3, 3, 2], -1, 1), [3, 3, 3, 2]);
  const dw = (a: tf.Tensor, b: tf.Tensor): tf.Tensor4D => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same');
  const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(dw(a, b))))([x, f]);
  return [dw(x, f), gx, gf];
}, { atol: 1e-5 });
add('FusedDepthwiseConv2D with bias and activation', ['FusedDepthwiseConv2D'], () => {
  const x = tf.tensor4d(randn([1, 5, 5, 3]), [1, 5, 5, 3]);
  const f = tf.tensor4d(randn([3, 3, 3, 2], -1, 1), [3, 3, 3, 2]);
  return [tf.fused.depthwiseConv2d({ x, filter: f, strides: 1, pad: 'same', bias: tf.tensor1d(randn([6])), activation: 'relu' }),
    tf.fused.depthwiseConv2d({ x, filter: f, strides: 2, pad: 'valid', activation: 'leakyrelu', leakyreluAlpha: 0.2 })];
}, { atol: 1e-5 });
add('BatchMatMul with transposes and batch broadcast; _FusedMatMul', ['BatchMatMul', '_FusedMatMul'], () => {
  const a = tf.tensor3d(randn([2, 3, 4]), [2, 3, 4]);
  const b = tf.tensor3d(randn([1, 5, 4]), [1, 5, 4]);
  const m = tf.tensor2d(randn([3, 4]), [3, 4]);
  const n = tf.tensor2d(randn([4, 2]), [4, 2]);
  return [tf.matMul(a, b, false, true), tf.matMul(m, n), tf.matMul(m, m, true, false),
    tf.fused.matMul({ a: m, b: n, bias: tf.tensor1d([0.5, -1]), activation: 'relu' })];
}, { atol: 1e-5 });
add('FusedBatchNorm with 1-D and full-shape parameters', ['FusedBatchNorm'], () => {
  const x = tf.tensor4d(randn([2, 3, 3, 4]), [2, 3, 3, 4]);
  const p = (lo: number, hi: number): tf.Tensor1D => tf.tensor1d(randn([4], lo, hi));
  return [tf.batchNorm(x, p(-1, 1), p(0.5, 2), p(-1, 1), p(0.5, 2), 1e-3), tf.batchNorm(x, p(-1, 1), p(0.5, 2)),
    tf.batchNorm(x, tf.mean(x, [0, 1, 2]), p(0.5, 2), undefined, p(0.5, 2), 1e-5)];
});
const pools: [number[], number, number, 'same' | 'valid'][] = [
  [[2, 8, 8, 3], 2, 2, 'same'], [[1, 7, 7, 2], 5, 1, 'same'], [[1, 13, 13, 2], 13, 1, 'same'], [[1, 7, 7, 2], 3, 2, 'same'],
  [[1, 6, 6, 2], 2, 1, 'same'], [[1, 7, 7, 2], 3, 2, 'valid'],
];
for (const [shape, k, s, pad] of pools) {
  add(`MaxPool and MaxPoolGrad x[${shape}] k${k} s${s} ${pad}`, ['MaxPool', 'MaxPoolGrad'], () => {
    const x = tf.tensor4d(randn(shape), shape as [number, number, number, number]);
    const pool = (a: tf.Tensor): tf.Tensor4D => tf.maxPool(a as tf.Tensor4D, k, s, pad);
    const y = pool(x);
    const w = tf.tensor(randn(y.shape), y.shape);
    return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), w)))(x)];
  });
}
/** Source index of each output row/column under tfjs's nearest-neighbour rules (independent re-derivation). */
function nearest(inSize: number, outSize: number, align: boolean, half: boolean): number[] {
  const scale = (align && outSize > 1 ? inSize - 1 : inSize) / (align && outSize > 1 ? outSize - 1 : outSize);
  return Array.from({ length: outSize }, (_, i) => {
    const frac = scale * (half ? i + 0.5 : i);
    return Math.max(0, Math.min(inSize - 1, align ? Math.round(frac) : Math.floor(frac)));
  });
}
const resizes: [number, boolean, boolean, [number, number]][] = [
  [1, false, false, [8, 8]], [1, true, false, [7, 9]], [1, false, false, [8, 10]], [2, false, true, [6, 10]], [2, true, false, [8, 10]],
  [2, false, false, [3, 2]],
];
for (const [batch, align, half, size] of resizes) {
  const xShape: [number, number, number, number] = [batch, 4, 5, 3];
  const xs = randn(xShape);
  const withWeights = (up: (a: tf.Tensor) => tf.Tensor): tf.Tensor[] => {
    const x = tf.tensor4d(xs, xShape);
    const y = up(x);
    const w = tf.tensor(randn(y.shape), y.shape);
    return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(up(a), w)))(x)];
  };
  // tfjs's cpu ResizeNearestNeighborGrad ignores halfPixelCenters and reads dy with the images' batch
  // stride (wrong for batch > 1), so those cases are checked against gathers' gradient instead.
  const cpuIsRight = batch === 1 && !half;
  add(`ResizeNearestNeighbor and its gradient batch ${batch} align=${align} half=${half} → [${size}]`,
    ['ResizeNearestNeighbor', 'ResizeNearestNeighborGrad'],
    () => withWeights((a) => tf.image.resizeNearestNeighbor(a as tf.Tensor4D, size, align, half)),
    cpuIsRight ? {} : {
      reference: () => withWeights((a) => tf.gather(tf.gather(a, nearest(4, size[0], align, half), 1), nearest(5, size[1], align, half), 2)),
    });
}

interface Result { shape: number[]; dtype: string; values: number[] }

function runCase(build: Build, seed: number): Result[] {
  r = makeRandom(seed);
  let results: Result[] = [];
  tf.tidy(() => {
    const out = build();
    results = (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) }));
  });
  return results;
}


test('every native kernel matches the cpu backend (rel. error < 1e-5)', { skip: skipWithoutTorchAddon(ADDON_PATH) }, async () => {
  const covered = new Set<string>();
  const failures: string[] = [];
  for (const [seed, c] of cases.entries()) {
    try {
      await checkCase(c, seed, covered);
    } catch (err) {
      failures.push(err instanceof Error ? err.message.split('\n')[0] : String(err));
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ from cpu`);
  // Every native kernel is exercised here.
  const untested = Object.keys(NATIVE_KERNELS).filter((k) => !covered.has(k));
  assert.deepEqual(untested, [], 'native kernels without a harness case');
});

async function checkCase(c: Case, seed: number, covered: Set<string>): Promise<void> {
    await initBackend({ prefer: 'cpu', quiet: true });
    const expected = runCase(c.reference ?? c.build, seed);
    await initBackend({ prefer: 'torch', quiet: true });
    const before = fallbackKernelsUsed().length;
    const profile = await tf.profile(() => { runCase(c.build, seed); });
    const ran = new Set(profile.kernelNames);
    const actual = runCase(c.build, seed);
    assert.deepEqual(fallbackKernelsUsed().slice(before), [], `${c.name}: fell back to cpu`);
    for (const k of c.kernels) {
      assert.ok(ran.has(k), `${c.name}: kernel ${k} did not run (ran: ${[...ran].join(', ')})`);
      assert.ok(k in NATIVE_KERNELS, `${c.name}: ${k} is not native`);
      covered.add(k);
    }
    assert.equal(actual.length, expected.length, `${c.name}: number of outputs`);
    actual.forEach((a, i) => {
      const e = expected[i];
      assert.deepEqual(a.shape, e.shape, `${c.name} output ${i}: shape`);
      assert.equal(a.dtype, e.dtype, `${c.name} output ${i}: dtype`);
      assertAllClose(a.values, e.values, { rtol: c.rtol ?? 1e-5, atol: c.atol ?? 1e-6, what: `${c.name} output ${i}` });
    });
}
