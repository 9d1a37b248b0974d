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
import { directFilterGradient } from './wasm-filter-grad.js';

const KERNEL = 'Conv2DBackpropFilter';

/**
 * x rearranged as planes [Ci, sx, N·H, ⌈W/sx⌉]: plane (ci, px) holds columns px, px+sx, … of channel ci,
 * so that every run of colsᵀ below is one contiguous copy (memmove) instead of a strided gather.
 */
function columnPlanes(backend: WasmBackendInternals, x: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, strideWidth: sx } = g;
  const wq = Math.ceil(w / sx);
  const planeSize = n * h * wq;
  const planes = backend.makeOutput([c * sx * planeSize], 'float32');
  const { heap, start: src } = heapFloats(backend, x);
  const dst = heapFloats(backend, planes).start;
  // Row by row (it stays in cache) and channel by channel, so that the writes are sequential.
  for (let row = 0; row < n * h; row++) {
    const rowStart = src + row * w * c;
    for (let ci = 0; ci < c; ci++) {
      for (let px = 0; px < sx; px++) {
        let at = dst + (ci * sx + px) * planeSize + row * wq;
        for (let ix = px, from = rowStart + px * c + ci; ix < w; ix += sx, from += sx * c) heap[at++] = heap[from];
      }
    }
  }
  return planes;
}

/**
 * colsᵀ for output positions m0 … m0+rows−1 as [KH·KW·Ci, rows]: row (ky, kx, ci) is channel ci of x at
 * (oy·sy + ky − padTop, ox·sx + kx − padLeft), zero outside the input; copied from {@link columnPlanes}.
 */
function im2colTransposed(backend: WasmBackendInternals, planes: TensorInfo, g: ConvGeometry, m0: number, rows: number): TensorInfo {
  const { batch, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, strideWidth: sx } = g;
  const wq = Math.ceil(w / sx);
  const planeSize = batch * h * wq;
  const colsT = backend.makeOutput([kh * kw * c, rows], 'float32');
  const { heap, start: src } = heapFloats(backend, planes);
  const dst = heapFloats(backend, colsT).start;
  for (let m = m0; m < m0 + rows; ) {
    // A segment of one output row: fixed (n, oy), ox from ox0 to ox1 − 1.
    const ox0 = m % wo;
    const oy = Math.floor(m / wo) % ho;
    const n = Math.floor(m / (wo * ho));
    const ox1 = Math.min(wo, ox0 + (m0 + rows - m));
    const col = dst + (m - m0) - ox0;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * g.strideHeight - g.padTop + ky;
      const inside = iy >= 0 && iy < h;
      for (let kx = 0; kx < kw; kx++) {
        // Input column ix = ox·sx + shift = (ox + jShift)·sx + px: a contiguous run in plane px.
        const shift = kx - g.padLeft;
        const px = ((shift % sx) + sx) % sx;
        const jShift = (shift - px) / sx;
        const first = inside ? Math.min(ox1, Math.max(ox0, Math.ceil(-shift / sx))) : ox1;
        const end = inside ? Math.max(first, Math.min(ox1, Math.floor((w - 1 - shift) / sx) + 1)) : ox1;
        for (let ci = 0; ci < c; ci++) {
          const at = col + ((ky * kw + kx) * c + ci) * rows;
          if (first > ox0) heap.fill(0, at + ox0, at + first);
          if (end > first) {
            const from = src + (ci * sx + px) * planeSize + (n * h + iy) * wq + jShift;
            heap.copyWithin(at + first, from + first, from + end);
          }
          if (ox1 > end) heap.fill(0, at + end, at + ox1);
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

/** Which implementation runs: chosen by shape ('auto'), or forced (tests and benchmarks). */
export type FilterGradientPath = 'auto' | 'direct' | 'gemm';
let path: FilterGradientPath = (process.env.FOCAL_YOLO_FILTER_GRAD as FilterGradientPath | undefined) ?? 'auto';

/** Forces one implementation of the wasm filter gradient (for tests and benchmarks); returns the previous. */
export function setFilterGradientPath(next: FilterGradientPath): FilterGradientPath {
  const previous = path;
  path = next;
  return previous;
}

function useDirect(_g: ConvGeometry): boolean {
  if (path !== 'auto') return path === 'direct';
  return true;
}

function conv2DBackpropFilter({ inputs, attrs, backend }: { inputs: { x: TensorInfo; dy: TensorInfo }; attrs: NamedAttrMap; backend: unknown }): TensorInfo {
  const wasm = asWasmBackend(backend, KERNEL);
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const g = convGeometry(KERNEL, x.shape, filterShape, attrs);
  const patch = g.filterHeight * g.filterWidth * g.inChannels;
  const total = g.batch * g.outHeight * g.outWidth;
  if (total > 0 && useDirect(g)) return directFilterGradient(wasm, x, dy, filterShape, g);
  const chunk = Math.max(1, Math.min(total, Math.floor(CHUNK_ELEMENTS / patch)));
  let dw: TensorInfo | undefined;
  const planes = total > 0 ? columnPlanes(wasm, x, g) : undefined;
  const pointwise = patch === g.inChannels && g.strideHeight === 1 && g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0;
  const oneGemm = planes !== undefined && pointwise && g.outHeight === g.inHeight && g.outWidth === g.inWidth;
  if (oneGemm) {
    // A 1×1 stride-1 unpadded convolution: the planes already are colsᵀ [Ci, M]; one GEMM, no copies.
    dw = runWasmKernel(wasm, 'BatchMatMul', { a: { ...planes, shape: [g.inChannels, total] }, b: { ...dy, shape: [total, g.outChannels] } }, { transposeA: false, transposeB: false });
  }
  for (let m0 = 0; planes !== undefined && !oneGemm && m0 < total; m0 += chunk) {
    const rows = Math.min(chunk, total - m0);
    const colsT = im2colTransposed(wasm, planes, g, m0, rows); // [K·K·Ci, rows]
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
  if (planes !== undefined) release(wasm, planes);
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
