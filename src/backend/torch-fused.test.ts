// The torch backend's fused conv + BatchNorm + activation and Mish against the composed tfjs path on
// the cpu backend (forward.ts runs the composed path there): outputs, running statistics and the
// gradients of input, filter, gamma and beta; a small whole network; no leaks over repeated steps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { GraphBuilder, type Activation, type Graph } from '../models/graph.js';
import { runGraph, type ParamLookup } from '../models/forward.js';
import { initBackend } from './index.js';
import { ADDON_PATH, loadTorchAddon } from './torch-addon.js';
import { FUSED_KERNEL_NAMES, mish } from './torch-fused.js';
import { assertAllClose, skipWithoutTorchAddon, values } from '../../test/helpers.js';
import { uniformGenerator } from '../util/random.js';

const skip = skipWithoutTorchAddon(ADDON_PATH);

type Role = Parameters<ParamLookup>[1];
interface ParamData { layer: string; role: Role; shape: number[]; data: Float32Array }

/** Random parameters for every node of `graph` (running variance positive, gamma around 1). */
function randomParams(graph: Graph, seed: number): ParamData[] {
  const rand = uniformGenerator(seed);
  const fill = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  const out: ParamData[] = [];
  for (const n of graph.nodes) {
    if (n.kind !== 'conv') continue;
    const fan = n.kernel * n.kernel * n.inChannels;
    const kernel = { shape: [n.kernel, n.kernel, n.inChannels, n.filters], data: fill(fan * n.filters, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan)) };
    if (!n.batchNorm) {
      out.push({ layer: n.name, role: 'kernel', ...kernel }, { layer: n.name, role: 'bias', shape: [n.filters], data: fill(n.filters, -0.1, 0.1) });
      continue;
    }
    const c = n.filters;
    out.push(
      { layer: `${n.name}.conv`, role: 'kernel', ...kernel },
      { layer: `${n.name}.bn`, role: 'gamma', shape: [c], data: fill(c, 0.5, 1.5) },
      { layer: `${n.name}.bn`, role: 'beta', shape: [c], data: fill(c, -0.5, 0.5) },
      { layer: `${n.name}.bn`, role: 'movingMean', shape: [c], data: fill(c, -0.2, 0.2) },
      { layer: `${n.name}.bn`, role: 'movingVariance', shape: [c], data: fill(c, 0.5, 2) },
    );
  }
  return out;
}

interface StepResult { outputs: Float32Array[]; grads: Map<string, Float32Array>; stats: Map<string, Float32Array> }

/**
 * On `backend`: Σ outputs·weights through runGraph in training mode, its gradients w.r.t. every
 * kernel/gamma/beta/bias (and the image unless the first node reads it: the network's input needs
 * no gradient, so the fused path computes none), and the running statistics after one step.
 */
async function trainingStep(backend: 'cpu' | 'torch', graph: Graph, params: ParamData[], image: Float32Array, imageShape: number[], seed: number,
  imageGradient = true): Promise<StepResult> {
  await initBackend({ prefer: backend, quiet: true });
  let result: StepResult | undefined;
  tf.tidy(() => {
    const vars = new Map(params.map((p) => [`${p.layer}/${p.role}`, tf.variable(tf.tensor(p.data, p.shape), p.role !== 'movingMean' && p.role !== 'movingVariance')]));
    const lookup: ParamLookup = (layer, role) => {
      const v = vars.get(`${layer}/${role}`);
      if (v === undefined) throw new Error(`no parameter ${layer}/${role}`);
      return v;
    };
    const x = tf.tensor4d(image, imageShape as [number, number, number, number]);
    const rand = uniformGenerator(seed);
    const loss = (img: tf.Tensor) => {
      const outs = runGraph(graph, img as tf.Tensor4D, lookup, true);
      // fixed random weights per output element: a non-trivial upstream gradient
      return tf.addN(outs.map((o) => tf.sum(tf.mul(o, tf.tensor(Float32Array.from({ length: o.size }, () => rand() * 2 - 1), o.shape))))) as tf.Scalar;
    };
    const trainable = [...vars.entries()].filter(([, v]) => v.trainable);
    const { grads } = tf.variableGrads(() => loss(x), trainable.map(([, v]) => v));
    // the statistics were updated once by the step above; a second, gradient-free pass gives the outputs
    const stats = new Map([...vars.entries()].filter(([, v]) => !v.trainable).map(([k, v]) => [k, values(v)]));
    const outputs = runGraph(graph, x, lookup, true).map(values);
    const gradValues = new Map(trainable.map(([k, v]) => [k, values(grads[v.name])]));
    if (imageGradient) gradValues.set('image', values(tf.grad((img: tf.Tensor) => loss(img))(x)));
    for (const v of vars.values()) v.dispose();
    result = { outputs, grads: gradValues, stats };
  });
  assert.ok(result !== undefined);
  return result;
}

function compare(actual: StepResult, expected: StepResult, rtol: number, atol: number): void {
  actual.outputs.forEach((o, i) => assertAllClose(o, expected.outputs[i], { rtol, atol, what: `output ${i}` }));
  for (const [k, v] of expected.stats) assertAllClose(actual.stats.get(k) ?? [], v, { rtol, atol, what: k });
  for (const [k, v] of expected.grads) {
    const scale = Math.max(...Array.from(v, Math.abs));
    assertAllClose(actual.grads.get(k) ?? [], v, { rtol, atol: atol * scale, what: `d${k}` });
  }
}

/** input → 1-channel-preserving slice (so the image gradient flows through the tested conv's dx) → conv. */
function singleConv(kernel: number, stride: number, activation: Activation): Graph {
  const g = new GraphBuilder();
  const s = g.sliceChannels(g.input, 0, 3);
  const c = g.conv(s, 'conv', 5, kernel, stride, activation);
  return g.build([c], 'conv');
}

test('fused conv + BatchNorm + activation matches the composed path: outputs, running statistics, dx, dW, dgamma, dbeta', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  assert.ok(tf.getKernel(FUSED_KERNEL_NAMES.convBatchNorm, 'torch') !== undefined, 'torch has the fused kernel');
  assert.equal(tf.getKernel(FUSED_KERNEL_NAMES.convBatchNorm, 'cpu'), undefined, 'cpu keeps the composed path');
  const shape = [2, 7, 6, 3];
  const rand = uniformGenerator(3);
  const image = Float32Array.from({ length: 2 * 7 * 6 * 3 }, () => rand() * 2 - 1);
  let seed = 10;
  for (const activation of ['leaky', 'mish', 'linear'] as const) {
    for (const [kernel, stride] of [[1, 1], [3, 1], [3, 2], [1, 2]]) {
      const graph = singleConv(kernel, stride, activation);
      const params = randomParams(graph, seed++);
      const expected = await trainingStep('cpu', graph, params, image, shape, seed);
      const actual = await trainingStep('torch', graph, params, image, shape, seed);
      try {
        compare(actual, expected, 1e-5, 1e-5);
      } catch (err) {
        throw new Error(`${activation} ${kernel}×${kernel} stride ${stride}: ${(err as Error).message}`);
      }
    }
  }
});

// No upsample: tfjs's cpu ResizeNearestNeighborGrad is wrong for batch > 1 (docs/native-backend.md, Tests).
test('a small network (mish, leaky and linear, 1×1/3×3, stride 2, maxpool, concat, two heads): torch-fused gradients equal cpu-composed', { skip }, async () => {
  const g = new GraphBuilder();
  const a = g.conv(g.input, 'a', 8, 3, 2, 'mish');
  const b = g.conv(a, 'b', 8, 1, 1, 'mish');
  const c = g.conv(b, 'c', 16, 3, 2, 'leaky');
  const p = g.maxPool(c, 2, 2);
  const d = g.conv(p, 'd', 8, 3, 1, 'leaky');
  const cat = g.concat(d, p);
  const e = g.conv(cat, 'e', 8, 1, 1, 'linear');
  const h1 = g.headConv(e, 'head1', 6);
  const h2 = g.headConv(d, 'head2', 6);
  const graph = g.build([h2, h1], 'a');
  const params = randomParams(graph, 7);
  const rand = uniformGenerator(8);
  const shape = [2, 16, 16, 3];
  const image = Float32Array.from({ length: 2 * 16 * 16 * 3 }, () => rand() * 2 - 1);
  const expected = await trainingStep('cpu', graph, params, image, shape, 9, false);
  const actual = await trainingStep('torch', graph, params, image, shape, 9, false);
  compare(actual, expected, 1e-4, 1e-5);
});

test('native Mish and its gradient match x·tanh(softplus(x)) composed on cpu', { skip }, async () => {
  const xs = Float32Array.from([-30, -8, -2.5, -1, -0.3, 0, 0.2, 1, 3, 9, 25]);
  const expected: Float32Array[] = [];
  for (const backend of ['cpu', 'torch'] as const) {
    await initBackend({ prefer: backend, quiet: true });
    const x = tf.tensor1d(xs);
    const [y, dx] = [values(mish(x)), values(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(mish(t), tf.range(1, 12))))(x))];
    if (backend === 'cpu') expected.push(y, dx);
    else {
      assertAllClose(y, expected[0], { what: 'mish' });
      assertAllClose(dx, expected[1], { atol: 1e-5, what: 'mish gradient' });
    }
    x.dispose();
  }
  assert.ok(tf.getKernel(FUSED_KERNEL_NAMES.mish, 'torch') !== undefined);
  // on torch, many threads' worth of values across the range against x·tanh(softplus(x)) in double
  const n = 200_003;
  const dense = Float32Array.from({ length: n }, (_, i) => -60 + (120 * i) / (n - 1));
  const x = tf.tensor1d(dense);
  const y = values(mish(x));
  const truth = Float32Array.from(dense, (v) => v * Math.tanh(v > 30 ? v : Math.log1p(Math.exp(v))));
  assertAllClose(y, truth, { rtol: 2e-6, atol: 1e-30, what: 'mish over [−60, 60]' });
  x.dispose();
});

test('repeated fused training steps leak no tensors (tfjs and native counts stay flat)', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const graph = singleConv(3, 2, 'mish');
  const params = randomParams(graph, 1);
  const vars = new Map(params.map((p) => [`${p.layer}/${p.role}`, tf.variable(tf.tensor(p.data, p.shape), p.role !== 'movingMean' && p.role !== 'movingVariance')]));
  const lookup: ParamLookup = (layer, role) => vars.get(`${layer}/${role}`) as tf.Variable;
  const x = tf.randomUniform([2, 8, 8, 3]);
  const optimizer = tf.train.sgd(1e-3);
  const step = () => {
    const cost = optimizer.minimize(() => tf.sum(tf.square(runGraph(graph, x as tf.Tensor4D, lookup, true)[0])) as tf.Scalar, true,
      [...vars.values()].filter((v) => v.trainable));
    cost?.dispose();
  };
  step();
  const tensors = tf.memory().numTensors;
  const native = loadTorchAddon().live().tensors;
  for (let i = 0; i < 20; i++) step();
  assert.equal(tf.memory().numTensors, tensors, 'tfjs tensors after 20 more steps');
  assert.equal(loadTorchAddon().live().tensors, native, 'native tensors after 20 more steps');
  optimizer.dispose();
  x.dispose();
  for (const v of vars.values()) v.dispose();
});
