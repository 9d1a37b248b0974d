/**
 * The parameters a graph owns, in PyTorch state-dict order, with their tfjs layout, their PyTorch
 * key and layout, their TensorFlow.js Layers name and their reference initialisation (§1.6).
 */
import { ecaKernelSize, type Graph } from './graph.js';

/** What a parameter is to its layer. */
export type ParamRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance';

/**
 * How the tfjs array maps to PyTorch's: `hwio` conv kernels ↔ OIHW, `dense` [in, out] ↔ Linear [out, in],
 * `conv1d` [k, 1, 1] ↔ Conv1d [1, 1, k] (same data), `vector` unchanged.
 */
export type TorchLayout = 'hwio' | 'dense' | 'conv1d' | 'vector';

/** How a parameter is initialised when a network is created (train.py's `weights_init`, §1.6). */
export type InitRule =
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'uniform'; bound: number }
  | { kind: 'constant'; value: number };

/** One parameter (trainable weight or BatchNorm running statistic). */
export interface ParamSpec {
  /** PyTorch state-dict key, e.g. `backbone.conv1.bn.running_var`. */
  key: string;
  /** TensorFlow.js Layers layer name (the key's module path), e.g. `backbone.conv1.bn`. */
  layer: string;
  role: ParamRole;
  /** Shape in the tfjs layout (conv kernels HWIO, dense kernels [in, out]). */
  shape: number[];
  layout: TorchLayout;
  /** False for BatchNorm running statistics (buffers, updated by the forward pass in training). */
  trainable: boolean;
  init: InitRule;
  /** Index of the graph node that owns it. */
  node: number;
}

const ROLE_SUFFIX: Record<ParamRole, { torch: string; keras: string }> = {
  kernel: { torch: 'weight', keras: 'kernel' },
  bias: { torch: 'bias', keras: 'bias' },
  gamma: { torch: 'weight', keras: 'gamma' },
  beta: { torch: 'bias', keras: 'beta' },
  movingMean: { torch: 'running_mean', keras: 'moving_mean' },
  movingVariance: { torch: 'running_var', keras: 'moving_variance' },
};

/** The TensorFlow.js Layers weight name of a parameter, e.g. `backbone.conv1.bn/moving_variance`. */
export function kerasWeightName(p: ParamSpec): string {
  return `${p.layer}/${ROLE_SUFFIX[p.role].keras}`;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The shape PyTorch stores a parameter in. */
export function torchShape(p: ParamSpec): number[] {
  const s = p.shape;
  switch (p.layout) {
    case 'hwio':
      return [s[3], s[2], s[0], s[1]];
    case 'dense':
      return [s[1], s[0]];
    case 'conv1d':
      return [s[2], s[1], s[0]];
    case 'vector':
      return [...s];
  }
}

const NORMAL_002: InitRule = { kind: 'normal', mean: 0, std: 0.02 };

/** Every parameter of the graph: convolutions in graph order, then attention blocks (state-dict order). */
export function graphParams(graph: Graph): ParamSpec[] {
  const convs: ParamSpec[] = [];
  const attention: ParamSpec[] = [];
  const spec = (node: number, layer: string, role: ParamRole, shape: number[], layout: TorchLayout, init: InitRule): ParamSpec => ({
    key: `${layer}.${ROLE_SUFFIX[role].torch}`, layer, role, shape, layout,
    trainable: role !== 'movingMean' && role !== 'movingVariance', init, node,
  });
  graph.nodes.forEach((n, i) => {
    if (n.kind === 'conv') {
      const kernel = [n.kernel, n.kernel, n.inChannels, n.filters];
      if (n.batchNorm) {
        const c = [n.filters];
        convs.push(
          spec(i, `${n.name}.conv`, 'kernel', kernel, 'hwio', NORMAL_002),
          spec(i, `${n.name}.bn`, 'gamma', c, 'vector', { kind: 'normal', mean: 1, std: 0.02 }),
          spec(i, `${n.name}.bn`, 'beta', c, 'vector', { kind: 'constant', value: 0 }),
          spec(i, `${n.name}.bn`, 'movingMean', c, 'vector', { kind: 'constant', value: 0 }),
          spec(i, `${n.name}.bn`, 'movingVariance', c, 'vector', { kind: 'constant', value: 1 }),
        );
      } else {
        // Head biases keep PyTorch's default U(±1/√fan_in); weights_init does not touch them.
        const fanIn = n.inChannels * n.kernel * n.kernel;
        convs.push(
          spec(i, n.name, 'kernel', kernel, 'hwio', NORMAL_002),
          spec(i, n.name, 'bias', [n.filters], 'vector', { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) }),
        );
      }
    } else if (n.kind === 'attention') {
      const c = n.channels;
      if (n.attention === 'se') {
        // nn.Linear keeps PyTorch's default init (its class name has no "Conv").
        const r = c / 16;
        attention.push(
          spec(i, `${n.name}.fc.0`, 'kernel', [c, r], 'dense', { kind: 'uniform', bound: 1 / Math.sqrt(c) }),
          spec(i, `${n.name}.fc.2`, 'kernel', [r, c], 'dense', { kind: 'uniform', bound: 1 / Math.sqrt(r) }),
        );
      } else if (n.attention === 'cbam') {
        const r = c / 8;
        attention.push(
          spec(i, `${n.name}.channelattention.fc1`, 'kernel', [1, 1, c, r], 'hwio', NORMAL_002),
          spec(i, `${n.name}.channelattention.fc2`, 'kernel', [1, 1, r, c], 'hwio', NORMAL_002),
          spec(i, `${n.name}.spatialattention.conv1`, 'kernel', [7, 7, 2, 1], 'hwio', NORMAL_002),
        );
      } else {
        attention.push(spec(i, `${n.name}.conv`, 'kernel', [ecaKernelSize(c), 1, 1], 'conv1d', NORMAL_002));
      }
    }
  });
  return [...convs, ...attention];
}

/** Moves `data` (a parameter in the tfjs layout) into PyTorch's layout. */
export function toTorchLayout(p: ParamSpec, data: Float32Array): Float32Array {
  if (p.layout === 'hwio') return permute4(data, p.shape, [3, 2, 0, 1]);
  if (p.layout === 'dense') return transpose2(data, p.shape[0], p.shape[1]);
  return data;
}

/** Moves `data` (a parameter in PyTorch's layout) into the tfjs layout. */
export function fromTorchLayout(p: ParamSpec, data: Float32Array): Float32Array {
  if (p.layout === 'hwio') return permute4(data, torchShape(p), [2, 3, 1, 0]);
  if (p.layout === 'dense') return transpose2(data, p.shape[1], p.shape[0]);
  return data;
}

/** out[j][i] = data[i][j] for a rows×cols matrix. */
function transpose2(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** Transposes a 4-D row-major array: output axis a is input axis perm[a]. */
function permute4(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const out = new Float32Array(data.length);
  const inStrides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const outShape = perm.map((a) => shape[a]);
  const s = perm.map((a) => inStrides[a]); // input stride of each output axis
  let o = 0;
  for (let a = 0; a < outShape[0]; a++) {
    for (let b = 0; b < outShape[1]; b++) {
      for (let c = 0; c < outShape[2]; c++) {
        let i = a * s[0] + b * s[1] + c * s[2];
        for (let d = 0; d < outShape[3]; d++, i += s[3]) out[o++] = data[i];
      }
    }
  }
  return out;
}
