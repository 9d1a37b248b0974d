/**
 * The native kernels of the `torch` backend: each tfjs kernel maps its inputs and attributes onto
 * one call into the addon (native/kernels.cc). Attributes are normalised here (axes made
 * non-negative, 'same' padding resolved to explicit top/bottom/left/right with tfjs's own rules).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DTYPE_CODES, type NativeAttrs, type NativeDtype } from './torch-addon.js';
import type { TorchBackend } from './torch-backend.js';

type Inputs = tf.NamedTensorInfoMap;
type Attrs = Record<string, unknown>;
type NativeKernel = (b: TorchBackend, inputs: Inputs, attrs: Attrs) => tf.TensorInfo | tf.TensorInfo[];

/** The named input of a kernel call; a clear error naming the kernel when it is missing. */
export function input(inputs: Inputs, name: string, kernel: string): tf.TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`${kernel}: input '${name}' is missing.`);
  return t;
}

function dtypeCode(dtype: unknown, kernel: string): number {
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'bool') return DTYPE_CODES[dtype as NativeDtype];
  throw new Error(`${kernel}: dtype '${String(dtype)}' is not supported by the torch backend (float32, int32, bool).`);
}

/** Casts natively when a result's dtype differs from the one tfjs's cpu backend gives. */
function ensureDtype(b: TorchBackend, t: tf.TensorInfo, dtype: tf.DataType, kernel: string): tf.TensorInfo {
  if (t.dtype === dtype) return t;
  const cast = b.run1('Cast', [t], { dtype: dtypeCode(dtype, kernel) });
  b.disposeIntermediate(t);
  return cast;
}

/** Inputs given as a list (Concat, Pack, AddN): tfjs passes them as an array-like map. */
function listInputs(inputs: Inputs): tf.TensorInfo[] {
  return Object.values(inputs as unknown as Record<string, tf.TensorInfo>);
}


function padsOf(info: tf.backend_util.Conv2DInfo): number[] {
  const p = info.padInfo;
  return [p.top, p.bottom, p.left, p.right];
}

function checkNHWC(attrs: Attrs, kernel: string): void {
  const fmt = attrs.dataFormat;
  if (fmt !== undefined && fmt !== 'NHWC' && fmt !== 'channelsLast') {
    throw new Error(`${kernel}: dataFormat '${String(fmt)}' is not supported by the torch backend; use NHWC.`);
  }
}

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

function convAttrs(xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean, kernel: string): NativeAttrs {
  checkNHWC(attrs, kernel);
  const dilations = attrs.dilations ?? 1;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4, filterShape as Shape4, attrs.strides as [number, number] | number, dilations as [number, number] | number,
    attrs.pad as Pad, attrs.dimRoundingMode as Rounding, depthwise, 'channelsLast');
  return {
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    pads: padsOf(info),
    outHW: [info.outHeight, info.outWidth],
  };
}

function fusedAttrs(base: NativeAttrs, inputs: Inputs, attrs: Attrs): { attrs: NativeAttrs; extra: tf.TensorInfo[] } {
  const extra: tf.TensorInfo[] = [];
  if (inputs.bias !== undefined) extra.push(inputs.bias);
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (activation === 'prelu') extra.push(input(inputs, 'preluActivationWeights', 'fused prelu'));
  return {
    attrs: { ...base, hasBias: inputs.bias !== undefined, activation, leakyreluAlpha: attrs.leakyreluAlpha as number | undefined },
    extra,
  };
}

function poolAttrs(x: tf.TensorInfo, attrs: Attrs, kernel: string): NativeAttrs {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4, attrs.filterSize as [number, number] | number, attrs.strides as [number, number] | number, 1,
    attrs.pad as Pad, attrs.dimRoundingMode as Rounding);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error(`${kernel}: dilated pooling is not supported.`);
  return {
    filter: [info.filterHeight, info.filterWidth], strides: [info.strideHeight, info.strideWidth], pads: padsOf(info),
    outHW: [info.outHeight, info.outWidth],
  };
}

/** Source row (or column) of each output row under tfjs's nearest-neighbour rules. */
function nearestSources(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): number[] {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const out: number[] = [];
  for (let i = 0; i < outSize; i++) {
    const frac = ratio * (halfPixelCenters ? i + 0.5 : i);
    let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) src = Math.max(0, src);
    out.push(src);
  }
  return out;
}

function reduceAttrs(x: tf.TensorInfo, axis: unknown, keepDims: unknown): NativeAttrs {
  return { axes: tf.util.parseAxisParam(axis as number | number[], x.shape), keepDims: keepDims === true };
}

/** Unary kernels with the same name natively; the value is the result dtype when it is not x's. */
const UNARY: Record<string, tf.DataType | undefined> = {
  Abs: undefined, Acos: undefined, Acosh: undefined, Asin: undefined, Asinh: undefined, Atan: undefined,
  Atanh: undefined, Ceil: undefined, Cos: undefined, Cosh: undefined, Elu: undefined, Erf: undefined,
  Exp: 'float32', Expm1: undefined, Floor: undefined, IsFinite: 'bool', IsInf: 'bool', IsNan: 'bool',
  Log: undefined, Log1p: undefined, LogicalNot: 'bool', Neg: undefined, OnesLike: undefined, Reciprocal: undefined,
  Relu: undefined, Relu6: undefined, Round: undefined, Rsqrt: undefined, Selu: undefined, Sigmoid: undefined,
  Sign: undefined, Sin: undefined, Sinh: undefined, Softplus: undefined, Sqrt: undefined, Square: undefined,
  Tan: undefined, Tanh: undefined, ZerosLike: undefined,
};

/** Binary kernels: 'upcast' gives tfjs's upcast dtype, otherwise the fixed result dtype. */
const BINARY: Record<string, 'upcast' | tf.DataType> = {
  Add: 'upcast', Sub: 'upcast', Multiply: 'upcast', RealDiv: 'upcast', FloorDiv: 'int32', Mod: 'upcast',
  Pow: 'upcast', Maximum: 'upcast', Minimum: 'upcast', SquaredDifference: 'upcast', Atan2: 'float32',
  Equal: 'bool', NotEqual: 'bool', Less: 'bool', LessEqual: 'bool', Greater: 'bool', GreaterEqual: 'bool',
  LogicalAnd: 'bool', LogicalOr: 'bool',
};

const REDUCE: Record<string, string> = { Sum: 'axis', Prod: 'axis', Mean: 'axis', Max: 'reductionIndices', Min: 'axis', All: 'axis', Any: 'axis' };

function kernelTable(): Record<string, NativeKernel> {
  const table: Record<string, NativeKernel> = {};
  for (const [name, outDtype] of Object.entries(UNARY)) {
    table[name] = (b, inputs) => {
      const x = input(inputs, 'x', name);
      return ensureDtype(b, b.run1(name, [x]), outDtype ?? x.dtype, name);
    };
  }
  for (const [name, rule] of Object.entries(BINARY)) {
    table[name] = (b, inputs) => {
      const a = input(inputs, 'a', name);
      const c = input(inputs, 'b', name);
      const want = rule === 'upcast' ? tf.upcastType(a.dtype, c.dtype) : rule;
      return ensureDtype(b, b.run1(name, [a, c]), want, name);
    };
  }
  for (const [name, axisAttr] of Object.entries(REDUCE)) {
    table[name] = (b, inputs, attrs) => {
      const x = input(inputs, 'x', name);
      return b.run1(name, [x], reduceAttrs(x, attrs[axisAttr], attrs.keepDims));
    };
  }
  table.Identity = (b, inputs) => b.run1('Identity', [input(inputs, 'x', 'Identity')]);
  table.Cast = (b, inputs, attrs) => b.run1('Cast', [input(inputs, 'x', 'Cast')], { dtype: dtypeCode(attrs.dtype, 'Cast') });
  table.Step = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'Step');
    return ensureDtype(b, b.run1('Step', [x], { alpha: attrs.alpha as number }), x.dtype, 'Step');
  };
  table.LeakyRelu = (b, inputs, attrs) => b.run1('LeakyRelu', [input(inputs, 'x', 'LeakyRelu')], { alpha: attrs.alpha as number });
  table.ClipByValue = (b, inputs, attrs) =>
    b.run1('ClipByValue', [input(inputs, 'x', 'ClipByValue')], {
      clipValueMin: attrs.clipValueMin as number, clipValueMax: attrs.clipValueMax as number,
    });
  table.Prelu = (b, inputs) => b.run1('Prelu', [input(inputs, 'x', 'Prelu'), input(inputs, 'alpha', 'Prelu')]);
  table.EluGrad = (b, inputs) => b.run1('EluGrad', [input(inputs, 'dy', 'EluGrad'), input(inputs, 'y', 'EluGrad')]);
  table.AddN = (b, inputs) => b.run1('AddN', listInputs(inputs));
  table.ArgMax = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'ArgMax');
    return b.run1('ArgMax', [x], { axis: tf.util.parseAxisParam(attrs.axis as number, x.shape)[0] });
  };
  table.ArgMin = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'ArgMin');
    return b.run1('ArgMin', [x], { axis: tf.util.parseAxisParam(attrs.axis as number, x.shape)[0] });
  };
  table.Softmax = (b, inputs, attrs) => {
    const logits = input(inputs, 'logits', 'Softmax');
    return b.run1('Softmax', [logits], { dim: tf.util.parseAxisParam(attrs.dim as number, logits.shape)[0] });
  };
  for (const name of ['Cumsum', 'Cumprod']) {
    table[name] = (b, inputs, attrs) => {
      const x = input(inputs, 'x', name);
      return b.run1(name, [x], {
        axis: tf.util.parseAxisParam(attrs.axis as number, x.shape)[0], exclusive: attrs.exclusive === true, reverse: attrs.reverse === true,
      });
    };
  }

  // ---- shapes ----
  table.Reshape = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'Reshape');
    const shape = tf.util.inferFromImplicitShape(attrs.shape as number[], tf.util.sizeFromShape(x.shape));
    return b.run1('Reshape', [x], { shape });
  };
  table.ExpandDims = (b, inputs, attrs) => {
    const x = input(inputs, 'input', 'ExpandDims');
    const rank = x.shape.length;
    let dim = attrs.dim as number;
    if (dim < 0) dim += rank + 1;
    if (dim < 0 || dim > rank) throw new Error(`ExpandDims: dim ${String(attrs.dim)} is out of range for rank ${rank}.`);
    const shape = [...x.shape];
    shape.splice(dim, 0, 1);
    return b.run1('Reshape', [x], { shape });
  };
  table.Transpose = (b, inputs, attrs) => b.run1('Transpose', [input(inputs, 'x', 'Transpose')], { perm: attrs.perm as number[] });
  table.Concat = (b, inputs, attrs) => {
    const list = listInputs(inputs);
    const axis = tf.util.parseAxisParam(attrs.axis as number, list[0].shape)[0];
    const nonEmpty = list.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    return b.run1('Concat', nonEmpty.length > 0 ? nonEmpty : [list[0]], { axis });
  };
  table.Pack = (b, inputs, attrs) => {
    const list = listInputs(inputs);
    const axis = tf.util.parseAxisParam(attrs.axis as number, [...list[0].shape, 1])[0];
    return b.run1('Pack', list, { axis });
  };
  table.Unpack = (b, inputs, attrs) => {
    const value = input(inputs, 'value', 'Unpack');
    return b.run('Unpack', [value], { axis: tf.util.parseAxisParam(attrs.axis as number, value.shape)[0] });
  };
  table.SplitV = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'SplitV');
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizeSplits = tf.backend_util.prepareSplitSize(x, attrs.numOrSizeSplits as number[] | number, axis);
    return b.run('SplitV', [x], { sizeSplits, axis });
  };
  table.Slice = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'Slice');
    const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]);
    tf.slice_util.assertParamsValid(x, begin, size);
    return b.run1('Slice', [x], { begin, size });
  };
  table.StridedSlice = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'StridedSlice');
    const info = tf.slice_util.sliceInfo(
      x.shape, attrs.begin as number[], attrs.end as number[], attrs.strides as number[], attrs.beginMask as number,
      attrs.endMask as number, attrs.ellipsisMask as number, attrs.newAxisMask as number, attrs.shrinkAxisMask as number);
    // Elements kept per dimension (shrunk dimensions keep one).
    const counts = info.begin.map((b0, i) => Math.max(0, Math.ceil((info.end[i] - b0) / info.strides[i])));
    return b.run1('StridedSlice', [x], { begin: info.begin, counts, strides: info.strides, outShape: info.finalShape });
  };
  table.PadV2 = (b, inputs, attrs) =>
    b.run1('PadV2', [input(inputs, 'x', 'PadV2')], {
      paddings: (attrs.paddings as [number, number][]).flat(), constantValue: attrs.constantValue as number,
    });
  table.Tile = (b, inputs, attrs) => b.run1('Tile', [input(inputs, 'x', 'Tile')], { reps: attrs.reps as number[] });
  table.Reverse = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'Reverse');
    return b.run1('Reverse', [x], { dims: tf.util.parseAxisParam(attrs.dims as number | number[], x.shape) });
  };
  table.GatherV2 = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'GatherV2');
    const indices = input(inputs, 'indices', 'GatherV2');
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const batchDims = (attrs.batchDims as number | undefined) ?? 0;
    return b.run1('GatherV2', [x, indices], { axis, batchDims });
  };
  table.Select = (b, inputs) =>
    b.run1('Select', [input(inputs, 'condition', 'Select'), input(inputs, 't', 'Select'), input(inputs, 'e', 'Select')]);
  table.Fill = (b, _inputs, attrs) => {
    const dtype = (attrs.dtype as tf.DataType | undefined) ?? tf.util.inferDtype(attrs.value as number);
    return b.run1('Fill', [], { shape: attrs.shape as number[], value: Number(attrs.value), dtype: dtypeCode(dtype, 'Fill') });
  };
  table.Range = (b, _inputs, attrs) => {
    // A handful of numbers: computed in JS exactly as tfjs does, then stored natively.
    const { start, stop, step } = attrs as { start: number; stop: number; step: number };
    const dtype = (attrs.dtype as 'float32' | 'int32' | undefined) ?? 'float32';
    const n = start === stop || (start < stop && step < 0) || (stop < start && step > 0) ? 0 : Math.ceil(Math.abs((stop - start) / step));
    const values = tf.util.makeZerosTypedArray(n, dtype);
    for (let i = 0; i < n; i++) values[i] = start + i * step;
    return b.makeTensorInfo([n], dtype, values);
  };
  table.OneHot = (b, inputs, attrs) => {
    const indices = input(inputs, 'indices', 'OneHot');
    return b.run1('OneHot', [indices], {
      depth: attrs.depth as number, onValue: attrs.onValue as number, offValue: attrs.offValue as number,
      dtype: dtypeCode(attrs.dtype ?? 'int32', 'OneHot'),
    });
  };

  // ---- neural-network kernels ----
  table.FusedBatchNorm = (b, inputs, attrs) => {
    const list = [input(inputs, 'x', 'FusedBatchNorm'), input(inputs, 'mean', 'FusedBatchNorm'), input(inputs, 'variance', 'FusedBatchNorm')];
    if (inputs.offset !== undefined) list.push(inputs.offset);
    if (inputs.scale !== undefined) list.push(inputs.scale);
    return b.run1('FusedBatchNorm', list, {
      varianceEpsilon: (attrs.varianceEpsilon as number | undefined) ?? 0.001,
      hasOffset: inputs.offset !== undefined, hasScale: inputs.scale !== undefined,
    });
  };
  table.BatchMatMul = (b, inputs, attrs) =>
    b.run1('BatchMatMul', [input(inputs, 'a', 'BatchMatMul'), input(inputs, 'b', 'BatchMatMul')], {
      transposeA: attrs.transposeA === true, transposeB: attrs.transposeB === true,
    });
  table._FusedMatMul = (b, inputs, attrs) => {
    const fused = fusedAttrs({ transposeA: attrs.transposeA === true, transposeB: attrs.transposeB === true }, inputs, attrs);
    return b.run1('_FusedMatMul', [input(inputs, 'a', '_FusedMatMul'), input(inputs, 'b', '_FusedMatMul'), ...fused.extra], fused.attrs);
  };
  for (const [name, depthwise] of [['Conv2D', false], ['DepthwiseConv2dNative', true]] as const) {
    table[name] = (b, inputs, attrs) => {
      const x = input(inputs, 'x', name);
      const filter = input(inputs, 'filter', name);
      return b.run1(name, [x, filter], convAttrs(x.shape, filter.shape, attrs, depthwise, name));
    };
  }
  for (const [name, depthwise] of [['FusedConv2D', false], ['FusedDepthwiseConv2D', true]] as const) {
    table[name] = (b, inputs, attrs) => {
      const x = input(inputs, 'x', name);
      const filter = input(inputs, 'filter', name);
      const fused = fusedAttrs(convAttrs(x.shape, filter.shape, attrs, depthwise, name), inputs, attrs);
      return b.run1(name, [x, filter, ...fused.extra], fused.attrs);
    };
  }
  for (const [name, depthwise] of [['Conv2DBackpropInput', false], ['DepthwiseConv2dNativeBackpropInput', true]] as const) {
    table[name] = (b, inputs, attrs) => {
      const dy = input(inputs, 'dy', name);
      const filter = input(inputs, 'filter', name);
      const inputShape = attrs.inputShape as number[];
      return b.run1(name, [dy, filter], { ...convAttrs(inputShape, filter.shape, attrs, depthwise, name), inputShape });
    };
  }
  for (const [name, depthwise] of [['Conv2DBackpropFilter', false], ['DepthwiseConv2dNativeBackpropFilter', true]] as const) {
    table[name] = (b, inputs, attrs) => {
      const x = input(inputs, 'x', name);
      const dy = input(inputs, 'dy', name);
      const filterShape = attrs.filterShape as number[];
      return b.run1(name, [x, dy], { ...convAttrs(x.shape, filterShape, attrs, depthwise, name), filterShape });
    };
  }
  table.MaxPool = (b, inputs, attrs) => {
    const x = input(inputs, 'x', 'MaxPool');
    return b.run1('MaxPool', [x], poolAttrs(x, attrs, 'MaxPool'));
  };
  table.MaxPoolGrad = (b, inputs, attrs) => {
    const x = input(inputs, 'input', 'MaxPoolGrad');
    return b.run1('MaxPoolGrad', [input(inputs, 'dy', 'MaxPoolGrad'), x], poolAttrs(x, attrs, 'MaxPoolGrad'));
  };
  table.ResizeNearestNeighbor = (b, inputs, attrs) => {
    const images = input(inputs, 'images', 'ResizeNearestNeighbor');
    const [newH, newW] = attrs.size as [number, number];
    const align = attrs.alignCorners === true;
    const half = attrs.halfPixelCenters === true;
    return b.run1('ResizeNearestNeighbor', [images], {
      rows: nearestSources(images.shape[1], newH, align, half), cols: nearestSources(images.shape[2], newW, align, half),
    });
  };
  table.ResizeNearestNeighborGrad = (b, inputs, attrs) => {
    const images = input(inputs, 'images', 'ResizeNearestNeighborGrad');
    const dy = input(inputs, 'dy', 'ResizeNearestNeighborGrad');
    const align = attrs.alignCorners === true;
    const half = attrs.halfPixelCenters === true;
    return b.run1('ResizeNearestNeighborGrad', [dy, images], {
      rows: nearestSources(images.shape[1], dy.shape[1], align, half), cols: nearestSources(images.shape[2], dy.shape[2], align, half),
    });
  };
  return table;
}

/** Every tfjs kernel the torch backend runs natively, by tfjs kernel name. */
export const NATIVE_KERNELS: Readonly<Record<string, NativeKernel>> = kernelTable();
