/**
 * The direct filter gradient: dW accumulated straight from a zero-padded copy of x and from dy in place,
 * by the hand-written WebAssembly SIMD kernel of wasm-filter-grad.wat (no im2col matrix, no packing).
 * It runs on the wasm backend's own memory. With the threaded build (shared memory) and more than one
 * thread, helper worker threads instantiate the same kernel on that memory and take equal shares of the
 * output rows, each into its own accumulators; the calling thread blocks (Atomics.wait) until they finish.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { Worker } from 'node:worker_threads';
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

/** Below this many multiply-adds a call stays on one thread (waking a helper costs tens of µs). */
const PARALLEL_MIN_MACS = 1 << 22;

/** A job for one thread: rows [rowStart, rowEnd) of all N·Ho output rows, into its accumulators. */
interface Job {
  /** Byte addresses: padded x, dy, accumulators, tap table. */
  padded: number;
  dy: number;
  acc: number;
  taps: number;
  /** Padded input rows per image, floats per padded row, output rows per image, floats per dy row. */
  paddedHeight: number;
  paddedRow: number;
  outHeight: number;
  dyRow: number;
  outWidth: number;
  strideHeight: number;
  xStep: number;
  dyStep: number;
  tapBlocks: number;
  coBlocks: number;
  rowStart: number;
  rowEnd: number;
}
const JOB_FIELDS = ['padded', 'dy', 'acc', 'taps', 'paddedHeight', 'paddedRow', 'outHeight', 'dyRow', 'outWidth', 'strideHeight', 'xStep', 'dyStep', 'tapBlocks', 'coBlocks', 'rowStart', 'rowEnd'] as const;

/**
 * Runs a job: the kernel once per image over that image's rows of the job. (Its source is also the
 * helper threads' code, so it must not refer to anything outside itself.)
 */
function runJob(accumulate: Accumulate, j: Job): void {
  for (let row = j.rowStart; row < j.rowEnd; ) {
    const image = Math.floor(row / j.outHeight);
    const oy = row - image * j.outHeight;
    const rows = Math.min(j.rowEnd - row, j.outHeight - oy);
    const xAt = j.padded + (image * j.paddedHeight + oy * j.strideHeight) * j.paddedRow * 4;
    const dyAt = j.dy + row * j.dyRow * 4;
    accumulate(xAt, j.xStep, j.strideHeight * j.paddedRow * 4, dyAt, j.dyStep, j.dyRow * 4, j.outWidth, rows, j.taps, j.tapBlocks, j.acc, j.coBlocks);
    row += rows;
  }
}

/** The helper thread: instantiates the kernel on the shared memory, then runs jobs as they are posted. */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, control, args, fields } = workerData;
const accumulate = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.accumulate;
const runJob = ${runJob.toString()};
const ctrl = new Int32Array(control);
const values = new Float64Array(args);
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  const job = {};
  fields.forEach((name, i) => { job[name] = values[i]; });
  try { runJob(accumulate, job); Atomics.store(ctrl, 2, 0); } catch (e) { Atomics.store(ctrl, 2, 1); }
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
`;

/** One helper thread and its mailbox: [0] job posted, [1] job done, [2] 1 if it failed. */
interface Helper {
  control: Int32Array;
  args: Float64Array;
  sequence: number;
}

/** The .wat's `addRuns`: count times dst[0 … run) += src[0 … run), src += srcStep, dst += dstStep (byte addresses). */
export type AddRuns = (src: number, dst: number, count: number, run: number, srcStep: number, dstStep: number) => void;

interface Instance {
  accumulate: Accumulate;
  addRuns: AddRuns;
  helpers: Helper[];
}

const instances = new WeakMap<object, Instance>();

/**
 * Threads of the started backend's pool (its own count: importing wasm.ts here would load the wasm
 * backend eagerly for every user of the library).
 */
function backendThreads(backend: WasmBackendInternals): number {
  const tfjs = backend.wasm.tfjs as { getThreadsCount?: () => number };
  const count = typeof tfjs.getThreadsCount === 'function' ? tfjs.getThreadsCount() : 1;
  return Number.isInteger(count) && count > 1 ? count : 1;
}

/** The backend module's memory: exported by the single-threaded build, created in JS by the threaded one. */
function backendMemory(backend: WasmBackendInternals): WebAssembly.Memory {
  const module = backend.wasm as unknown as { asm?: { memory?: unknown }; wasmMemory?: unknown };
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error('Conv2DBackpropFilter (focal-yolo wasm kernel): the wasm backend exposes no WebAssembly.Memory; use @tensorflow/tfjs-backend-wasm 4.22.');
  }
  return memory;
}

/**
 * The kernel instantiated on this backend's memory, and `threads − 1` helper threads when the memory is
 * shared (once per backend module).
 */
function kernelFor(backend: WasmBackendInternals, threads: number): Instance {
  const cached = instances.get(backend.wasm);
  if (cached !== undefined) return cached;
  const memory = backendMemory(backend);
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = Buffer.from(shared ? FILTER_GRAD_WASM_SHARED : FILTER_GRAD_WASM, 'base64');
  const module = new WebAssembly.Module(bytes);
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const accumulate = exports.accumulate as Accumulate;
  const addRuns = exports.addRuns as AddRuns;
  const helpers: Helper[] = [];
  for (let i = 1; shared && i < threads; i++) {
    const control = new SharedArrayBuffer(3 * 4);
    const args = new SharedArrayBuffer(JOB_FIELDS.length * 8);
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { memory, bytes, control, args, fields: JOB_FIELDS } });
    worker.unref(); // it waits for jobs forever
    helpers.push({ control: new Int32Array(control), args: new Float64Array(args), sequence: 0 });
  }
  const instance = { accumulate, addRuns, helpers };
  instances.set(backend.wasm, instance);
  return instance;
}

/** The module's `addRuns` on this backend's memory (col2im of the few-channel input gradient). */
export function wasmAddRuns(backend: WasmBackendInternals): AddRuns {
  return kernelFor(backend, backendThreads(backend)).addRuns;
}

/** How many helper threads the kernel runs on with this backend (0: the calling thread only). */
export function filterGradientHelpers(backend: WasmBackendInternals): number {
  return kernelFor(backend, backendThreads(backend)).helpers.length;
}

/** Runs `jobs[0]` here and the others on the helpers, and waits for all. */
function runJobs(instance: Instance, jobs: Job[]): void {
  const posted = jobs.slice(1).map((job, i) => {
    const helper = instance.helpers[i];
    JOB_FIELDS.forEach((name, f) => (helper.args[f] = job[name]));
    helper.sequence++;
    Atomics.store(helper.control, 0, helper.sequence);
    Atomics.notify(helper.control, 0);
    return helper;
  });
  runJob(instance.accumulate, jobs[0]);
  for (const helper of posted) {
    // The first wait also covers the helper's start-up (instantiating the module) on first use.
    while (Atomics.load(helper.control, 1) !== helper.sequence) Atomics.wait(helper.control, 1, helper.sequence - 1, 1000);
    if (helper.control[2] !== 0) throw new Error('Conv2DBackpropFilter (focal-yolo wasm kernel): a helper thread failed; use threads: 1.');
  }
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
  const instance = kernelFor(backend, backendThreads(backend));
  // Every tap of every output pixel inside: rows/columns 0 … (Ho−1)·s + K − 1 of the padded input.
  const hp = (ho - 1) * sy + kh;
  const wp = (wo - 1) * sx + kw;
  const taps = kh * kw * c;
  const tapBlocks = Math.ceil(taps / TAP_BLOCK);
  const coBlocks = Math.ceil(co / CO_BLOCK);
  const coPadded = coBlocks * CO_BLOCK;
  const accSize = tapBlocks * TAP_BLOCK * coPadded;
  // With Co not a multiple of the block, the kernel reads up to 7 floats past each dy pixel's channels:
  // harmless inside dy (the extra columns are dropped) but not past its end, so the very last row of dy
  // goes through a copy with room after it.
  const tail = co % CO_BLOCK !== 0;
  const rows = batch * ho - (tail ? 1 : 0);
  const parallel = batch * ho * wo * taps * co >= PARALLEL_MIN_MACS;
  const parts = Math.max(1, Math.min(parallel ? instance.helpers.length + 1 : 1, rows));

  const padded = backend.makeOutput([batch * hp * wp * c], 'float32');
  const acc = backend.makeOutput([parts * accSize], 'float32');
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
  heap.fill(0, accStart, accStart + parts * accSize);
  // Byte offset of each tap (ky, kx, ci) from a window's top-left; the padding taps read offset 0.
  const offsets = new Int32Array(heap.buffer, address(backend, tapTable), tapBlocks * TAP_BLOCK);
  offsets.fill(0);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      for (let ci = 0; ci < c; ci++) offsets[(ky * kw + kx) * c + ci] = ((ky * wp + kx) * c + ci) * 4;
    }
  }

  const job = (dyAt: number, accAt: number, rowStart: number, rowEnd: number): Job => ({
    padded: pStart * 4,
    dy: dyAt,
    acc: accAt,
    taps: address(backend, tapTable),
    paddedHeight: hp,
    paddedRow: rowLength,
    outHeight: ho,
    dyRow: wo * co,
    outWidth: wo,
    strideHeight: sy,
    xStep: sx * c * 4,
    dyStep: co * 4,
    tapBlocks,
    coBlocks,
    rowStart,
    rowEnd,
  });
  if (rows > 0) {
    runJobs(instance, Array.from({ length: parts }, (_, p) => job(dyStart * 4, (accStart + p * accSize) * 4, Math.floor((p * rows) / parts), Math.floor(((p + 1) * rows) / parts))));
  }
  if (lastRow !== undefined) {
    // The last row, from its copy: the job's dy address is shifted so that row N·Ho − 1 lands on it.
    const rowAt = heapFloats(backend, lastRow).start;
    const from = dyStart + (batch * ho - 1) * wo * co;
    heap.copyWithin(rowAt, from, from + wo * co);
    heap.fill(0, rowAt + wo * co, rowAt + wo * co + CO_BLOCK);
    runJob(instance.accumulate, job((rowAt - (batch * ho - 1) * wo * co) * 4, accStart * 4, batch * ho - 1, batch * ho));
  }

  // Σ over the parts of [taps, Co padded] → [KH, KW, Ci, Co].
  const dwStart = heapFloats(backend, dw).start;
  for (let t = 0; t < taps; t++) heap.copyWithin(dwStart + t * co, accStart + t * coPadded, accStart + t * coPadded + co);
  for (let p = 1; p < parts; p++) {
    for (let t = 0; t < taps; t++) {
      const from = accStart + p * accSize + t * coPadded;
      const to = dwStart + t * co;
      for (let k = 0; k < co; k++) heap[to + k] += heap[from + k];
    }
  }
  release(backend, padded, acc, tapTable, ...(lastRow !== undefined ? [lastRow] : []));
  return dw;
}
