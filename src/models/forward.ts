/**
 * Runs a {@link Graph} with tfjs ops. Inference folds each BatchNorm into its convolution (one fused
 * conv + bias + activation); training normalises with the batch statistics and updates the running
 * statistics as PyTorch does: running = (1 − m)·running + m·batch, m = 0.1, the variance unbiased.
 */
import * as tf from '@tensorflow/tfjs-core';
import { convBatchNormActivation, mish } from '../backend/torch-fused.js';
import type { AttentionKind, ConvNode, Graph, GraphNode } from './graph.js';

/** BatchNorm epsilon (inside the square root), as PyTorch's and Darknet's default. */
export const BN_EPSILON = 1e-5;
/** BatchNorm momentum in PyTorch's convention: running = 0.9·running + 0.1·batch. */
export const BN_MOMENTUM = 0.1;
/** LeakyReLU negative slope. */
export const LEAKY_SLOPE = 0.1;

/** Looks up a parameter variable by layer name and role. */
export type ParamLookup = (layer: string, role: 'kernel' | 'bias' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance') => tf.Variable;

function activate(x: tf.Tensor4D, activation: ConvNode['activation']): tf.Tensor4D {
  if (activation === 'mish') return mish(x);
  if (activation === 'leaky') return tf.leakyRelu(x, LEAKY_SLOPE);
  return x;
}

/** A convolution's filter and bias with its BatchNorm (running statistics) folded in. */
interface FoldedConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

// y = γ·(conv(x) − μ)/√(σ²+ε) + β  =  conv(x; W·s) + (β − μ·s),  s = γ/√(σ²+ε)
function foldBatchNorm(kernel: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor): FoldedConv {
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)));
  return { filter: tf.mul(kernel, scale) as tf.Tensor4D, bias: tf.sub(beta, tf.mul(mean, scale)) as tf.Tensor1D };
}

/**
 * Inference-mode BatchNorm folds, one per convolution, each valid while its source variables hold
 * the values it was computed from (the variables' current `dataId`s: `assign`, an optimizer step
 * and a checkpoint load all give a variable a new one). A stale fold is disposed and recomputed on
 * its next use, so the cache holds at most one fold per layer.
 *
 * @example
 * ```ts
 * const folds = new FoldCache();
 * const outs = tf.tidy(() => runGraph(graph, images, param, false, folds)); // folds computed once
 * folds.dispose();                                                         // with the model
 * ```
 */
export class FoldCache {
  private readonly entries = new Map<string, { ids: object[]; fold: FoldedConv }>();

  /** The fold of `layer` for the current values of `sources`, computed by `make` when missing or stale. */
  get(layer: string, sources: tf.Tensor[], make: () => FoldedConv): FoldedConv {
    const ids = sources.map((v) => v.dataId);
    const hit = this.entries.get(layer);
    if (hit !== undefined && hit.ids.length === ids.length && hit.ids.every((id, i) => id === ids[i])) return hit.fold;
    if (hit !== undefined) tf.dispose([hit.fold.filter, hit.fold.bias]);
    const fold = tf.tidy(() => {
      const f = make();
      return [f.filter, f.bias] as const;
    });
    const entry = { ids, fold: { filter: tf.keep(fold[0]), bias: tf.keep(fold[1]) } };
    this.entries.set(layer, entry);
    return entry.fold;
  }

  /** Number of folds held. */
  get size(): number {
    return this.entries.size;
  }

  /** Frees every fold. */
  dispose(): void {
    for (const { fold } of this.entries.values()) tf.dispose([fold.filter, fold.bias]);
    this.entries.clear();
  }
}

function conv(node: ConvNode, x: tf.Tensor4D, param: ParamLookup, training: boolean, inputGradient: boolean,
  folds: FoldCache | undefined): tf.Tensor4D {
  const pad = node.kernel >> 1;
  const strides: [number, number] = [node.stride, node.stride];
  if (!node.batchNorm) {
    return tf.fused.conv2d({
      x, filter: param(node.name, 'kernel') as tf.Tensor4D, strides, pad, bias: param(node.name, 'bias'),
    });
  }
  const layer = `${node.name}.bn`;
  const kernel = param(`${node.name}.conv`, 'kernel') as tf.Tensor4D;
  const gamma = param(layer, 'gamma');
  const beta = param(layer, 'beta');
  const runningMean = param(layer, 'movingMean');
  const runningVar = param(layer, 'movingVariance');
  if (!training) {
    // Off the gradient tape the fold is cached until one of its five variables changes.
    const sources = [kernel, gamma, beta, runningMean, runningVar];
    const { filter, bias } = folds !== undefined && tf.engine().state.gradientDepth === 0
      ? folds.get(node.name, sources, () => foldBatchNorm(kernel, gamma, beta, runningMean, runningVar))
      : foldBatchNorm(kernel, gamma, beta, runningMean, runningVar);
    const y = tf.fused.conv2d({
      x, filter, strides, pad, bias,
      activation: node.activation === 'leaky' ? 'leakyrelu' : 'linear', leakyreluAlpha: LEAKY_SLOPE,
    });
    return node.activation === 'mish' ? activate(y, 'mish') : y;
  }
  // One native forward and backward kernel where the backend has them (torch); else composed below.
  const fused = convBatchNormActivation({
    x, filter: kernel, gamma: gamma as tf.Tensor1D, beta: beta as tf.Tensor1D, movingMean: runningMean, movingVariance: runningVar,
    stride: node.stride, pad, activation: node.activation, alpha: LEAKY_SLOPE, epsilon: BN_EPSILON, momentum: BN_MOMENTUM,
    inputGradient,
  });
  if (fused !== undefined) return fused;
  const y = tf.conv2d(x, kernel, strides, pad);
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  const n = y.shape[0] * y.shape[1] * y.shape[2];
  tf.tidy(() => {
    const m = BN_MOMENTUM;
    runningMean.assign(tf.add(tf.mul(runningMean, 1 - m), tf.mul(mean, m)));
    const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
    runningVar.assign(tf.add(tf.mul(runningVar, 1 - m), tf.mul(unbiased, m)));
  });
  const normalised = tf.add(tf.mul(tf.sub(y, mean), tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)))), beta);
  return activate(normalised as tf.Tensor4D, node.activation);
}

function attention(kind: AttentionKind, name: string, x: tf.Tensor4D, param: ParamLookup): tf.Tensor4D {
  const [b, , , c] = x.shape;
  const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D; // [B, C]
  if (kind === 'se') {
    const hidden = tf.relu(tf.matMul(pooled, param(`${name}.fc.0`, 'kernel') as tf.Tensor2D));
    const s = tf.sigmoid(tf.matMul(hidden, param(`${name}.fc.2`, 'kernel') as tf.Tensor2D));
    return tf.mul(x, tf.reshape(s, [b, 1, 1, c]));
  }
  if (kind === 'eca') {
    const kernel = param(`${name}.conv`, 'kernel') as tf.Tensor3D; // [k, 1, 1]
    const s = tf.sigmoid(tf.conv1d(tf.reshape(pooled, [b, c, 1]) as tf.Tensor3D, kernel, 1, 'same'));
    return tf.mul(x, tf.reshape(s, [b, 1, 1, c]));
  }
  // CBAM: channel attention (shared MLP on average and max pooling), then spatial attention.
  const fc1 = param(`${name}.channelattention.fc1`, 'kernel');
  const fc2 = param(`${name}.channelattention.fc2`, 'kernel');
  const r = fc1.shape[3] as number;
  const mlp = (v: tf.Tensor2D) =>
    tf.matMul(tf.relu(tf.matMul(v, tf.reshape(fc1, [c, r]) as tf.Tensor2D)), tf.reshape(fc2, [r, c]) as tf.Tensor2D);
  const channel = tf.sigmoid(tf.add(mlp(pooled), mlp(tf.max(x, [1, 2]) as tf.Tensor2D)));
  const y = tf.mul(x, tf.reshape(channel, [b, 1, 1, c])) as tf.Tensor4D;
  const maps = tf.concat([tf.mean(y, 3, true), tf.max(y, 3, true)], 3) as tf.Tensor4D; // [B, H, W, 2]: [mean, max]
  const spatial = tf.sigmoid(tf.conv2d(maps, param(`${name}.spatialattention.conv1`, 'kernel') as tf.Tensor4D, 1, 3));
  return tf.mul(y, spatial);
}

function runNode(node: GraphNode, inputs: (i: number) => tf.Tensor4D, param: ParamLookup, training: boolean,
  folds: FoldCache | undefined): tf.Tensor4D {
  switch (node.kind) {
    case 'input':
      throw new Error('runGraph: the input node has no operation');
    case 'conv':
      // the network's input (node 0) needs no gradient
      return conv(node, inputs(node.input), param, training, node.input !== 0, folds);
    case 'add':
      return tf.add(inputs(node.inputs[0]), inputs(node.inputs[1]));
    case 'concat':
      return tf.concat(node.inputs.map(inputs), 3);
    case 'maxpool':
      // stride 1 ('same'): padding never wins the max, as PyTorch's implicit −∞ padding
      return tf.maxPool(inputs(node.input), node.size, node.stride, node.stride === 1 ? 'same' : 'valid');
    case 'upsample': {
      const x = inputs(node.input);
      return tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]);
    }
    case 'sliceChannels':
      return tf.slice(inputs(node.input), [0, 0, 0, node.begin], [-1, -1, -1, node.channels]);
    case 'attention':
      return attention(node.attention, node.name, inputs(node.input), param);
  }
}

/** For each node, the index of the last node that reads it (outputs: past the end). */
function lastUses(graph: Graph): number[] {
  const last = graph.nodes.map((_, i) => i);
  graph.nodes.forEach((n, i) => {
    const ins = 'inputs' in n ? n.inputs : 'input' in n ? [n.input] : [];
    for (const j of ins) last[j] = i;
  });
  for (const o of graph.outputs) last[o] = graph.nodes.length;
  return last;
}

/**
 * Runs the graph on NHWC `images` and returns the output nodes (level 0 first). Must be called
 * inside `tf.tidy` (or a gradient function), which owns the intermediates. With `folds`, inference
 * reuses the BatchNorm folds it holds (outside a gradient tape; the caller disposes `folds`).
 */
export function runGraph(graph: Graph, images: tf.Tensor4D, param: ParamLookup, training: boolean,
  folds?: FoldCache): tf.Tensor4D[] {
  const values: (tf.Tensor4D | undefined)[] = [images];
  // Outside a gradient tape, free each activation after its last reader to bound memory.
  const free = tf.engine().state.gradientDepth === 0;
  const last = free ? lastUses(graph) : [];
  const get = (i: number): tf.Tensor4D => {
    const v = values[i];
    if (v === undefined) throw new Error(`runGraph: node ${i} was used after being freed`);
    return v;
  };
  for (let i = 1; i < graph.nodes.length; i++) {
    // a tidy per node drops its temporaries (folded kernels, statistics) at once
    values[i] = tf.tidy(() => runNode(graph.nodes[i], get, param, training, folds));
    if (free) {
      const node = graph.nodes[i];
      const ins = 'inputs' in node ? node.inputs : 'input' in node ? [node.input] : [];
      for (const j of ins) {
        if (j !== 0 && last[j] === i && values[j] !== undefined) {
          values[j]?.dispose();
          values[j] = undefined;
        }
      }
    }
  }
  return graph.outputs.map(get);
}
