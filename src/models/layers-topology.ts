/**
 * The TensorFlow.js LayersModel topology (Keras functional-model JSON) of a graph, made of built-in
 * layers only, so that `tf.loadLayersModel('…/model.json')` runs the network in a browser with plain
 * tfjs. Layer names are the reference's module paths, so weight names read `backbone.conv1.conv/kernel`.
 *
 * Mapping: BasicConv → [ZeroPadding2D for stride 2] Conv2D, BatchNormalization, Activation('mish') |
 * LeakyReLU(0.1); head conv → Conv2D with bias; SPP/tiny pools → MaxPooling2D; ×2 → UpSampling2D;
 * Darknet's channel route (groups) → Permute, Cropping2D, Permute; attention → pooling, Dense/Conv,
 * Reshape and Multiply layers (CBAM's per-pixel channel mean/max through Reshape, Permute and
 * Global*Pooling1D, which needs the input size fixed at the checkpoint's `inputShape`).
 */
import { BN_EPSILON, BN_MOMENTUM, LEAKY_SLOPE } from './forward.js';
import { ecaKernelSize, type Graph, type GraphNode } from './graph.js';

/** One layer of the Keras JSON. */
interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
  name: string;
  inbound_nodes: [string, number, number, Record<string, never>][][];
}

/** A reference to a layer's output: [layer name, call index]. */
type Ref = [string, number];

class TopologyWriter {
  readonly layers: LayerJson[] = [];
  private readonly calls = new Map<string, LayerJson>();

  /** Adds a layer called once on `inputs`. */
  add(className: string, name: string, config: Record<string, unknown>, inputs: Ref[]): Ref {
    const layer: LayerJson = { class_name: className, config: { name, trainable: true, ...config }, name, inbound_nodes: [] };
    this.layers.push(layer);
    this.calls.set(name, layer);
    return this.call(name, inputs);
  }

  /** Calls an existing layer again (shared weights). */
  call(name: string, inputs: Ref[]): Ref {
    const layer = this.calls.get(name) as LayerJson;
    if (inputs.length > 0) layer.inbound_nodes.push(inputs.map(([n, i]) => [n, i, 0, {}]));
    return [name, Math.max(layer.inbound_nodes.length - 1, 0)];
  }
}

function conv2d(filters: number, kernel: number, stride: number, padding: 'same' | 'valid', useBias: boolean, activation = 'linear'): Record<string, unknown> {
  return {
    filters, kernel_size: [kernel, kernel], strides: [stride, stride], padding, data_format: 'channels_last',
    dilation_rate: [1, 1], activation, use_bias: useBias,
  };
}

/** Spatial size (height, width) of every node for an input of `inputShape`. */
function spatialSizes(graph: Graph, inputShape: [number, number]): [number, number][] {
  const sizes: [number, number][] = [];
  graph.nodes.forEach((n, i) => {
    if (i === 0) {
      sizes.push(inputShape);
      return;
    }
    const src = sizes['inputs' in n ? n.inputs[0] : (n as { input: number }).input];
    if (n.kind === 'conv' || n.kind === 'maxpool') sizes.push([Math.floor(src[0] / n.stride), Math.floor(src[1] / n.stride)]);
    else if (n.kind === 'upsample') sizes.push([src[0] * 2, src[1] * 2]);
    else sizes.push(src);
  });
  return sizes;
}

function attentionLayers(w: TopologyWriter, node: Extract<GraphNode, { kind: 'attention' }>, x: Ref, hw: [number, number]): Ref {
  const { name, channels: c } = node;
  if (node.attention === 'se') {
    let s = w.add('GlobalAveragePooling2D', `${name}.pool`, { data_format: 'channels_last' }, [x]);
    s = w.add('Dense', `${name}.fc.0`, { units: c / 16, use_bias: false, activation: 'relu' }, [s]);
    s = w.add('Dense', `${name}.fc.2`, { units: c, use_bias: false, activation: 'sigmoid' }, [s]);
    s = w.add('Reshape', `${name}.scale`, { target_shape: [1, 1, c] }, [s]);
    return w.add('Multiply', `${name}.mul`, {}, [x, s]);
  }
  if (node.attention === 'eca') {
    let s = w.add('GlobalAveragePooling2D', `${name}.pool`, { data_format: 'channels_last' }, [x]);
    s = w.add('Reshape', `${name}.column`, { target_shape: [c, 1] }, [s]);
    s = w.add('Conv1D', `${name}.conv`, { filters: 1, kernel_size: [ecaKernelSize(c)], strides: [1], padding: 'same', dilation_rate: [1], activation: 'sigmoid', use_bias: false }, [s]);
    s = w.add('Reshape', `${name}.scale`, { target_shape: [1, 1, c] }, [s]);
    return w.add('Multiply', `${name}.mul`, {}, [x, s]);
  }
  const avg = w.add('Reshape', `${name}.avg`, { target_shape: [1, 1, c] }, [w.add('GlobalAveragePooling2D', `${name}.avg_pool`, { data_format: 'channels_last' }, [x])]);
  const max = w.add('Reshape', `${name}.max`, { target_shape: [1, 1, c] }, [w.add('GlobalMaxPooling2D', `${name}.max_pool`, { data_format: 'channels_last' }, [x])]);
  const fc1 = `${name}.channelattention.fc1`;
  const fc2 = `${name}.channelattention.fc2`;
  const a1 = w.add('Conv2D', fc1, conv2d(c / 8, 1, 1, 'valid', false, 'relu'), [avg]);
  const a2 = w.add('Conv2D', fc2, conv2d(c, 1, 1, 'valid', false), [a1]);
  const m2 = w.call(fc2, [w.call(fc1, [max])]);
  const channel = w.add('Activation', `${name}.channel_sigmoid`, { activation: 'sigmoid' }, [w.add('Add', `${name}.channel_sum`, {}, [a2, m2])]);
  const y = w.add('Multiply', `${name}.channel_mul`, {}, [x, channel]);
  // per-pixel mean and max over channels: [H, W, C] → [H·W, C] → [C, H·W] → pool over C → [H, W, 1]
  const [h, wd] = hw;
  const columns = w.add('Permute', `${name}.pixels_t`, { dims: [2, 1] }, [w.add('Reshape', `${name}.pixels`, { target_shape: [h * wd, c] }, [y])]);
  const mean = w.add('Reshape', `${name}.mean_map`, { target_shape: [h, wd, 1] }, [w.add('GlobalAveragePooling1D', `${name}.mean`, {}, [columns])]);
  const mx = w.add('Reshape', `${name}.max_map`, { target_shape: [h, wd, 1] }, [w.add('GlobalMaxPooling1D', `${name}.maxc`, {}, [columns])]);
  const maps = w.add('Concatenate', `${name}.maps`, { axis: -1 }, [mean, mx]);
  const spatial = w.add('Conv2D', `${name}.spatialattention.conv1`, conv2d(1, 7, 1, 'same', false, 'sigmoid'), [maps]);
  return w.add('Multiply', `${name}.spatial_mul`, {}, [y, spatial]);
}

/**
 * The `modelTopology` of a model.json for `graph` at a fixed `inputShape` ([height, width]).
 *
 * @example
 * ```ts
 * const topology = layersModelTopology(model.graph, model.inputShape, 'yolov4-tiny');
 * ```
 */
export function layersModelTopology(graph: Graph, inputShape: [number, number], modelName: string): Record<string, unknown> {
  const w = new TopologyWriter();
  const sizes = spatialSizes(graph, inputShape);
  const refs: Ref[] = [];
  graph.nodes.forEach((n, i) => {
    const input = (j: number) => refs[j];
    let out: Ref;
    switch (n.kind) {
      case 'input':
        w.layers.push({
          class_name: 'InputLayer', name: 'images', inbound_nodes: [],
          config: { batch_input_shape: [null, inputShape[0], inputShape[1], 3], dtype: 'float32', sparse: false, name: 'images' },
        });
        out = ['images', 0];
        break;
      case 'conv': {
        let x = input(n.input);
        const pad = n.kernel >> 1;
        if (!n.batchNorm) {
          out = w.add('Conv2D', n.name, conv2d(n.filters, n.kernel, n.stride, 'same', true), [x]);
          break;
        }
        // PyTorch pads ⌊k/2⌋ on both sides; 'same' equals that only for stride 1
        if (n.stride !== 1) x = w.add('ZeroPadding2D', `${n.name}.pad`, { padding: [[pad, pad], [pad, pad]], data_format: 'channels_last' }, [x]);
        x = w.add('Conv2D', `${n.name}.conv`, conv2d(n.filters, n.kernel, n.stride, n.stride === 1 ? 'same' : 'valid', false), [x]);
        x = w.add('BatchNormalization', `${n.name}.bn`, { axis: -1, momentum: 1 - BN_MOMENTUM, epsilon: BN_EPSILON, center: true, scale: true }, [x]);
        out = n.activation === 'mish'
          ? w.add('Activation', `${n.name}.act`, { activation: 'mish' }, [x])
          : w.add('LeakyReLU', `${n.name}.act`, { alpha: LEAKY_SLOPE }, [x]);
        break;
      }
      case 'add':
        out = w.add('Add', `add_${i}`, {}, n.inputs.map(input));
        break;
      case 'concat':
        out = w.add('Concatenate', `concat_${i}`, { axis: -1 }, n.inputs.map(input));
        break;
      case 'maxpool':
        out = w.add('MaxPooling2D', `maxpool_${i}`, {
          pool_size: [n.size, n.size], strides: [n.stride, n.stride], padding: n.stride === 1 ? 'same' : 'valid', data_format: 'channels_last',
        }, [input(n.input)]);
        break;
      case 'upsample':
        out = w.add('UpSampling2D', `upsample_${i}`, { size: [2, 2], data_format: 'channels_last', interpolation: 'nearest' }, [input(n.input)]);
        break;
      case 'sliceChannels': {
        // [H, W, C] → [C, W, H], crop the first axis to [begin, begin+count), and back
        const total = graph.nodes[n.input].channels;
        let x = w.add('Permute', `route_${i}.to_channels`, { dims: [3, 2, 1] }, [input(n.input)]);
        x = w.add('Cropping2D', `route_${i}.crop`, { cropping: [[n.begin, total - n.begin - n.channels], [0, 0]], data_format: 'channels_last' }, [x]);
        out = w.add('Permute', `route_${i}.back`, { dims: [3, 2, 1] }, [x]);
        break;
      }
      case 'attention':
        out = attentionLayers(w, n, input(n.input), sizes[i]);
        break;
    }
    refs.push(out);
  });
  return {
    class_name: 'Model',
    config: {
      name: modelName,
      layers: w.layers,
      input_layers: [['images', 0, 0]],
      output_layers: graph.outputs.map((o) => [refs[o][0], refs[o][1], 0]),
    },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
}
