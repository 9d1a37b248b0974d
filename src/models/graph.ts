/**
 * The network as data: a list of nodes in execution order (which is also the reference's module
 * registration order, the Darknet file order and the PyTorch state-dict order of the convolutions).
 * One description serves the tfjs forward pass, parameter bookkeeping, Darknet and safetensors
 * interop and the TensorFlow.js LayersModel topology written with checkpoints.
 */

/** Activation after a convolution's BatchNorm (or after a head convolution's bias). */
export type Activation = 'mish' | 'leaky' | 'linear';

/** Attention blocks of YOLOv4-tiny, selected by `phi` (1 = SE, 2 = CBAM, 3 = ECA). */
export type AttentionKind = 'se' | 'cbam' | 'eca';

/**
 * A convolution. With `batchNorm` it is the reference's BasicConv (conv without bias → BatchNorm →
 * activation, state-dict prefix `<name>.conv` / `<name>.bn`); without, a head output conv with bias
 * (state-dict `<name>.weight` / `<name>.bias`). Padding is ⌊kernel/2⌋ on every side.
 */
export interface ConvNode {
  kind: 'conv';
  name: string;
  input: number;
  filters: number;
  kernel: number;
  stride: number;
  batchNorm: boolean;
  activation: Activation;
  channels: number;
  inChannels: number;
}

/** Every node kind; `channels` is the node's output width. */
export type GraphNode =
  | { kind: 'input'; channels: number }
  | ConvNode
  | { kind: 'add'; inputs: number[]; channels: number }
  | { kind: 'concat'; inputs: number[]; channels: number }
  | { kind: 'maxpool'; input: number; size: number; stride: number; channels: number }
  | { kind: 'upsample'; input: number; channels: number }
  | { kind: 'sliceChannels'; input: number; begin: number; channels: number }
  | { kind: 'attention'; name: string; input: number; attention: AttentionKind; channels: number };

/** A whole network: nodes in execution order, and the output node of each level (stride 32 first). */
export interface Graph {
  nodes: GraphNode[];
  outputs: number[];
  /** State-dict prefix of the backbone (frozen by `freezeBackbone`). */
  backbonePrefix: string;
}

/** Appends nodes while tracking output widths; every method returns the new node's index. */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [{ kind: 'input', channels: 3 }];

  /** The input image node. */
  get input(): number {
    return 0;
  }

  private push(node: GraphNode): number {
    this.nodes.push(node);
    return this.nodes.length - 1;
  }

  private width(i: number): number {
    return this.nodes[i].channels;
  }

  /** A BasicConv (conv, BatchNorm, activation). */
  conv(input: number, name: string, filters: number, kernel: number, stride: number, activation: Activation): number {
    return this.push({
      kind: 'conv', name, input, filters, kernel, stride, batchNorm: true, activation,
      channels: filters, inChannels: this.width(input),
    });
  }

  /** A head output conv: 1×1 with bias, no BatchNorm, no activation. */
  headConv(input: number, name: string, filters: number): number {
    return this.push({
      kind: 'conv', name, input, filters, kernel: 1, stride: 1, batchNorm: false, activation: 'linear',
      channels: filters, inChannels: this.width(input),
    });
  }

  add(a: number, b: number): number {
    return this.push({ kind: 'add', inputs: [a, b], channels: this.width(a) });
  }

  concat(...inputs: number[]): number {
    return this.push({ kind: 'concat', inputs, channels: inputs.reduce((s, i) => s + this.width(i), 0) });
  }

  maxPool(input: number, size: number, stride: number): number {
    return this.push({ kind: 'maxpool', input, size, stride, channels: this.width(input) });
  }

  upsample(input: number): number {
    return this.push({ kind: 'upsample', input, channels: this.width(input) });
  }

  /** Channels begin … begin+count−1 of the input (Darknet's route with groups). */
  sliceChannels(input: number, begin: number, count: number): number {
    return this.push({ kind: 'sliceChannels', input, begin, channels: count });
  }

  attention(input: number, name: string, attention: AttentionKind): number {
    return this.push({ kind: 'attention', name, input, attention, channels: this.width(input) });
  }

  build(outputs: number[], backbonePrefix: string): Graph {
    return { nodes: this.nodes, outputs, backbonePrefix };
  }
}

/** ECA's 1-D kernel size for `channels`: ⌊(log₂C + 1)/2⌋, made odd. */
export function ecaKernelSize(channels: number): number {
  const k = Math.floor(Math.abs((Math.log2(channels) + 1) / 2));
  return k % 2 === 1 ? k : k + 1;
}
