/**
 * The direct filter gradient: dW accumulated straight from a zero-padded copy of x and from dy in place,
 * by the hand-written WebAssembly SIMD kernel of wasm-filter-grad.wat (no im2col matrix, no packing).
 * It runs on the wasm backend's own memory, on the calling thread.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { ConvGeometry } from './wasm-conv-common.js';
import { FILTER_GRAD_WASM, FILTER_GRAD_WASM_SHARED } from './wasm-filter-grad-bytes.js';
import { heapFloats, release, type WasmBackendInternals } from './wasm-internals.js';

/** The kernel's export (see the .wat file for the meaning of each argument; addresses in bytes). */
type Accumulate = (
  x: number, xStep: number, xRowStep: number,
  dy: number, dyStep: number, dyRowStep: number,
  count: number, rows: number,
  taps: number, tapBlocks: number, acc: number, coBlocks: number,
) => void;

/** Taps and output channels per register block of the kernel. */
const TAP_BLOCK = 4;
const CO_BLOCK = 8;

const instances = new WeakMap<object, Accumulate>();

/** The backend module's memory: exported by the single-threaded build, created in JS by the threaded one. */
function backendMemory(backend: WasmBackendInternals): WebAssembly.Memory {
  const module = backend.wasm as unknown as { asm?: { memory?: unknown }; wasmMemory?: unknown };
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error('Conv2DBackpropFilter (focal-yolo wasm kernel): the wasm backend exposes no WebAssembly.Memory; use @tensorflow/tfjs-backend-wasm 4.22.');
  }
  return memory;
}

/** The kernel instantiated on this backend's memory (once per backend module). */
function kernelFor(backend: WasmBackendInternals): Accumulate {
  const cached = instances.get(backend.wasm);
  if (cached !== undefined) return cached;
  const memory = backendMemory(backend);
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = Buffer.from(shared ? FILTER_GRAD_WASM_SHARED : FILTER_GRAD_WASM, 'base64');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const accumulate = instance.exports.accumulate as Accumulate;
  instances.set(backend.wasm, accumulate);
  return accumulate;
}

/** Byte address of a tensor on the heap. */
function address(backend: WasmBackendInternals, t: TensorInfo): number {
  return heapFloats(backend, t).start * 4;
}

/**
 * dW [KH, KW, Ci, Co] of the convolution `g` from x [N, H, W, Ci] and dy [N, Ho, Wo, Co] (N·Ho·Wo > 0).
 */
export function directFilterGradient(backend: WasmBackendInternals, x: TensorInfo, dy: TensorInfo, filterShape: number[], g: ConvGeometry): TensorInfo {
  const { batch, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, outChannels: co } = g;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sy, strideWidth: sx, padTop, padLeft } = g;
  const accumulate = kernelFor(backend);
  // Every tap of every output pixel inside: rows/columns 0 … (Ho−1)·s + K − 1 of the padded input.
  const hp = (ho - 1) * sy + kh;
  const wp = (wo - 1) * sx + kw;
  const taps = kh * kw * c;
  const tapBlocks = Math.ceil(taps / TAP_BLOCK);
  const coBlocks = Math.ceil(co / CO_BLOCK);
  const coPadded = coBlocks * CO_BLOCK;
  // With Co not a multiple of the block, the kernel reads up to 7 floats past each dy pixel's channels:
  // harmless inside dy (the extra columns are dropped) but not past its end, so the very last row of dy
  // goes through a copy with room after it.
  const tail = co % CO_BLOCK !== 0;

  const padded = backend.makeOutput([batch * hp * wp * c], 'float32');
  const acc = backend.makeOutput([tapBlocks * TAP_BLOCK * coPadded], 'float32');
  const tapTable = backend.makeOutput([tapBlocks * TAP_BLOCK], 'int32');
  const lastRow = tail ? backend.makeOutput([wo * co + CO_BLOCK], 'float32') : undefined;
  const dw = backend.makeOutput(filterShape, 'float32');
  // Views after the last allocation (growing the memory detaches earlier ones).
  const { heap, start: xStart } = heapFloats(backend, x);
  const pStart = heapFloats(backend, padded).start;
  const accStart = heapFloats(backend, acc).start;
  const dyStart = heapFloats(backend, dy).start;

  // The zero-padded input, row by row.
  const rowLength = wp * c;
  const left = Math.min(wp, padLeft);
  const right = Math.min(wp, padLeft + w);
  for (let b = 0; b < batch; b++) {
    for (let iyp = 0; iyp < hp; iyp++) {
      const iy = iyp - padTop;
      const at = pStart + (b * hp + iyp) * rowLength;
      if (iy < 0 || iy >= h || right <= left) {
        heap.fill(0, at, at + rowLength);
        continue;
      }
      const from = xStart + ((b * h + iy) * w + (left - padLeft)) * c;
      heap.fill(0, at, at + left * c);
      heap.copyWithin(at + left * c, from, from + (right - left) * c);
      heap.fill(0, at + right * c, at + rowLength);
    }
  }
  heap.fill(0, accStart, accStart + tapBlocks * TAP_BLOCK * coPadded);
  // Byte offset of each tap (ky, kx, ci) from a window's top-left; the padding taps read offset 0.
  const offsets = new Int32Array(heap.buffer, address(backend, tapTable), tapBlocks * TAP_BLOCK);
  offsets.fill(0);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      for (let ci = 0; ci < c; ci++) offsets[(ky * kw + kx) * c + ci] = ((ky * wp + kx) * c + ci) * 4;
    }
  }

  const xStep = sx * c * 4;
  const xRowStep = sy * rowLength * 4;
  const dyRow = wo * co;
  const run = (xAt: number, dyAt: number, dyRowStep: number, rows: number) => {
    accumulate(xAt, xStep, xRowStep, dyAt, co * 4, dyRowStep, wo, rows, address(backend, tapTable), tapBlocks, accStart * 4, coBlocks);
  };
  for (let b = 0; b < batch; b++) {
    const rows = tail && b === batch - 1 ? ho - 1 : ho;
    if (rows > 0) run((pStart + b * hp * rowLength) * 4, (dyStart + b * ho * dyRow) * 4, dyRow * 4, rows);
  }
  if (lastRow !== undefined) {
    const rowAt = heapFloats(backend, lastRow).start;
    const from = dyStart + (batch * ho - 1) * dyRow;
    heap.copyWithin(rowAt, from, from + dyRow);
    heap.fill(0, rowAt + dyRow, rowAt + dyRow + CO_BLOCK);
    run((pStart + ((batch - 1) * hp + (ho - 1) * sy) * rowLength) * 4, rowAt * 4, dyRow * 4, 1);
  }

  // [taps, Co padded] → [KH, KW, Ci, Co].
  const dwStart = heapFloats(backend, dw).start;
  for (let t = 0; t < taps; t++) heap.copyWithin(dwStart + t * co, accStart + t * coPadded, accStart + t * coPadded + co);
  release(backend, padded, acc, tapTable, ...(lastRow !== undefined ? [lastRow] : []));
  return dw;
}
