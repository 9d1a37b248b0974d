/**
 * `Conv2DBackpropFilter` for the wasm backend (tfjs-backend-wasm has none).
 *
 * dW[ky,kx,ci,co] = Σ_m x[m shifted by (ky,kx)][ci] · dy[m][co] over the M = N·Ho·Wo output positions,
 * accumulated directly from x and dy by a hand-written WebAssembly SIMD kernel (wasm-filter-grad.ts).
 * It replaced one GEMM colsᵀ [K·K·Ci, M] × dy [M, Co] through XNNPACK, which repacked the M×Co dy operand
 * on every call (two thirds of its time) and was slower at every measured shape.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { convGeometry } from './wasm-conv-common.js';
import { directFilterGradient } from './wasm-filter-grad.js';
import { asWasmBackend, heapFloats } from './wasm-internals.js';

const KERNEL = 'Conv2DBackpropFilter';

function conv2DBackpropFilter({ inputs, attrs, backend }: { inputs: { x: TensorInfo; dy: TensorInfo }; attrs: NamedAttrMap; backend: unknown }): TensorInfo {
  const wasm = asWasmBackend(backend, KERNEL);
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const g = convGeometry(KERNEL, x.shape, filterShape, attrs);
  if (g.batch * g.outHeight * g.outWidth > 0) return directFilterGradient(wasm, x, dy, filterShape, g);
  // No output positions (an empty batch): nothing flows back.
  const dw = wasm.makeOutput(filterShape, 'float32');
  const { heap, start } = heapFloats(wasm, dw);
  heap.fill(0, start, start + filterShape.reduce((a, b) => a * b, 1));
  return dw;
}

/** The kernel registration for `tf.registerKernel`. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
