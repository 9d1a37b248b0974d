/**
 * `Conv2DBackpropFilter` for the wasm backend (tfjs-backend-wasm has none).
 *
 * dW[ky,kx,ci,co] = Σ_m x[m shifted by (ky,kx)][ci] · dy[m][co] over the M = N·Ho·Wo output positions: one
 * GEMM colsᵀ [K·K·Ci, M] × dy [M, Co], done in chunks of M. The chunk of dy is a zero-copy view and is
 * the operand XNNPACK packs (it repacks that operand for every new tensor, so it must be the small one).
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { CHUNK_ELEMENTS, convGeometry, type ConvGeometry } from './wasm-conv-common.js';
import {
  asWasmBackend,
  heapFloats,
  release,
  releaseRowView,
  rowView,
  runWasmKernel,
  type WasmBackendInternals,
} from './wasm-internals.js';

const KERNEL = 'Conv2DBackpropFilter';

/**
 * colsᵀ for output positions m0 … m0+rows−1, written directly as [KH·KW·Ci, rows], zero where the window
 * leaves the input. Element by element with sequential writes: faster here than im2col + XNNPACK transpose.
 */
function im2colTransposed(backend: WasmBackendInternals, x: TensorInfo, g: ConvGeometry, m0: number, rows: number): TensorInfo {
  const { inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = g;
  const sx = g.strideWidth;
  const colsT = backend.makeOutput([kh * kw * c, rows], 'float32');
  const { heap, start: src } = heapFloats(backend, x);
  const dst = heapFloats(backend, colsT).start;
  for (let m = m0; m < m0 + rows; ) {
    // A segment of one output row: fixed (n, oy), ox from ox0 to ox1 − 1.
    const ox0 = m % wo;
    const oy = Math.floor(m / wo) % ho;
    const n = Math.floor(m / (wo * ho));
    const ox1 = Math.min(wo, ox0 + (m0 + rows - m));
    const col = dst + (m - m0);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * g.strideHeight - g.padTop + ky;
      const inside = iy >= 0 && iy < h;
      const rowStart = src + (n * h + iy) * w * c;
      for (let kx = 0; kx < kw; kx++) {
        // Output columns whose input column ox·s + kx − padLeft lies inside [0, w).
        const shift = kx - g.padLeft;
        const first = inside ? Math.min(ox1, Math.max(ox0, Math.ceil(-shift / sx))) : ox1;
        const end = inside ? Math.max(first, Math.min(ox1, Math.floor((w - 1 - shift) / sx) + 1)) : ox1;
        for (let ci = 0; ci < c; ci++) {
          const at = col + ((ky * kw + kx) * c + ci) * rows - ox0;
          for (let ox = ox0; ox < first; ox++) heap[at + ox] = 0;
          let from = rowStart + (first * sx + shift) * c + ci;
          for (let ox = first; ox < end; ox++, from += sx * c) heap[at + ox] = heap[from];
          for (let ox = end; ox < ox1; ox++) heap[at + ox] = 0;
        }
      }
    }
    m += ox1 - ox0;
  }
  return colsT;
}

/** Adds src's elements into dst's (same size), in place on the heap. */
function accumulate(backend: WasmBackendInternals, dst: TensorInfo, src: TensorInfo, size: number): void {
  const { heap, start: d } = heapFloats(backend, dst);
  const s = heapFloats(backend, src).start;
  for (let i = 0; i < size; i++) heap[d + i] += heap[s + i];
}

function conv2DBackpropFilter({ inputs, attrs, backend }: { inputs: { x: TensorInfo; dy: TensorInfo }; attrs: NamedAttrMap; backend: unknown }): TensorInfo {
  const wasm = asWasmBackend(backend, KERNEL);
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const g = convGeometry(KERNEL, x.shape, filterShape, attrs);
  const patch = g.filterHeight * g.filterWidth * g.inChannels;
  const total = g.batch * g.outHeight * g.outWidth;
  const chunk = Math.max(1, Math.min(total, Math.floor(CHUNK_ELEMENTS / patch)));
  let dw: TensorInfo | undefined;
  for (let m0 = 0; m0 < total; m0 += chunk) {
    const rows = Math.min(chunk, total - m0);
    const colsT = im2colTransposed(wasm, x, g, m0, rows); // [K·K·Ci, rows]
    const dyRows = rowView(wasm, dy, m0, rows, g.outChannels); // [rows, Co], no copy
    const product = runWasmKernel(wasm, 'BatchMatMul', { a: colsT, b: dyRows }, { transposeA: false, transposeB: false });
    releaseRowView(wasm, dyRows);
    release(wasm, colsT);
    if (dw === undefined) dw = product;
    else {
      accumulate(wasm, dw, product, patch * g.outChannels);
      release(wasm, product);
    }
  }
  if (dw === undefined) {
    // No output positions (an empty batch): nothing flows back.
    dw = wasm.makeOutput(filterShape, 'float32');
    const { heap, start } = heapFloats(wasm, dw);
    heap.fill(0, start, start + patch * g.outChannels);
  }
  // [1, K·K·Ci, Co] → [KH, KW, Ci, Co]: same memory, new shape.
  return { dataId: dw.dataId, shape: filterShape, dtype: 'float32' };
}

/** The kernel registration for `tf.registerKernel`. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
