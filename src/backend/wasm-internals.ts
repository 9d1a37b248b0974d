/**
 * The few internals of `@tensorflow/tfjs-backend-wasm` (4.22) that our kernels use: tensor storage on the
 * wasm heap, calling the backend's own registered kernels, and zero-copy row views of a tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/** Where a tensor lives on the wasm heap (the backend's `TensorData`). */
interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

/** The parts of `BackendWasm` we rely on; checked once by {@link asWasmBackend}. */
export interface WasmBackendInternals {
  wasm: {
    HEAPU8: Uint8Array;
    tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
  };
  dataIdMap: {
    get(dataId: object): WasmTensorData | undefined;
    set(dataId: object, value: WasmTensorData): void;
    delete(dataId: object): boolean;
  };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Narrows a kernel's `backend` argument, failing clearly if tfjs-backend-wasm changed its layout. */
export function asWasmBackend(backend: unknown, kernelName: string): WasmBackendInternals {
  const b = backend as Partial<WasmBackendInternals> | undefined;
  if (b?.wasm?.HEAPU8 === undefined || b.dataIdMap === undefined || typeof b.makeOutput !== 'function') {
    throw new Error(`${kernelName} (focal-yolo wasm kernel): the backend is not tfjs-backend-wasm 4.x; use @tensorflow/tfjs-backend-wasm 4.22.`);
  }
  return b as WasmBackendInternals;
}

/** The tensor's storage record (offset on the heap, id known to the C++ side). */
function record(backend: WasmBackendInternals, t: TensorInfo): WasmTensorData {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error(`tensor of shape [${t.shape}] is not on the wasm backend`);
  return data;
}

/**
 * A Float32Array over the tensor's heap memory. Take it after the last allocation of the kernel: growing
 * the wasm memory detaches earlier views. Offsets may pass 2 GiB, so they stay unsigned numbers.
 */
export function heapView(backend: WasmBackendInternals, t: TensorInfo): Float32Array {
  const { memoryOffset } = record(backend, t);
  return new Float32Array(backend.wasm.HEAPU8.buffer, memoryOffset, tf.util.sizeFromShape(t.shape));
}

/** The whole heap as floats, with the tensor's start as an element index (for in-heap copies). */
export function heapFloats(backend: WasmBackendInternals, t: TensorInfo): { heap: Float32Array; start: number } {
  const { memoryOffset } = record(backend, t);
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  return { heap, start: memoryOffset / 4 };
}

/** Runs a kernel that the wasm backend registered (its fast C++/XNNPACK implementation). */
export function runWasmKernel(
  backend: WasmBackendInternals,
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap,
): TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`the wasm backend has no '${kernelName}' kernel; use @tensorflow/tfjs-backend-wasm 4.22.`);
  return kernel.kernelFunc({ inputs, attrs, backend: backend as unknown as tf.KernelBackend }) as TensorInfo;
}

/** Frees an intermediate tensor made inside a kernel. */
export function release(backend: WasmBackendInternals, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

/**
 * A tensor of shape [rows, cols] that shares the memory of rows `rowStart …` of `t` seen as [*, cols]
 * (no copy). Free it with {@link releaseRowView}, never with `disposeData` (its memory is `t`'s).
 */
export function rowView(backend: WasmBackendInternals, t: TensorInfo, rowStart: number, rows: number, cols: number): TensorInfo {
  const base = record(backend, t);
  const memoryOffset = base.memoryOffset + rowStart * cols * 4;
  // makeOutput with an offset registers the tensor there without allocating.
  const view = backend.makeOutput([rows, cols], 'float32', memoryOffset);
  return view;
}

/** Forgets a {@link rowView} without freeing the memory it borrows. */
export function releaseRowView(backend: WasmBackendInternals, view: TensorInfo): void {
  const data = record(backend, view);
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}
