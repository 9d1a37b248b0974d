/**
 * The direct filter gradient: dW accumulated straight from a zero-padded copy of x and from dy in place,
 * by the hand-written WebAssembly SIMD kernel of wasm-filter-grad.wat (no im2col matrix, no packing).
 * It runs on the wasm backend's own memory. With the threaded build (shared memory) and more than one
 * thread, helper worker threads instantiate the same kernel on that memory and take equal shares of the
 * output rows, each into its own accumulators; the calling thread blocks (Atomics.wait) until they finish.
 *
 * The same module and helper threads also build the input gradient with few input channels
 * (wasm-conv-backprop-input.ts), one dx row per kernel call, the threads drawing blocks of rows from a
 * shared counter: {@link fusedInputGradient} (GEMM and col2im fused) and {@link col2imChunk} /
 * {@link startCol2im} (col2im of an XNNPACK GEMM's output).
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

/** The .wat's `col2imRow` (see the .wat file for the meaning of each argument; addresses in bytes). */
export type Col2imRow = (
  src: number, contribs: number, contribStep: number,
  dst: number, rowBytes: number, zero: number,
  count: number, srcStep: number, dstStep: number, run: number, first: number,
) => void;

/** The .wat's `gemmCol2imRow` (see the .wat file for the meaning of each argument; addresses in bytes). */
export type GemmCol2imRow = (
  dy: number, w: number, contribs: number, dyContribStep: number, wContribStep: number,
  co: number, dst: number, rowBytes: number, zero: number,
  count: number, dstStep: number, first: number, run: number, scratch: number,
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
 * What the two input-gradient jobs share: dx rows [rowStart, rowEnd) of all N·H rows, taken by the
 * threads `block` rows at a time from a shared counter, and the geometry that maps a dx row to the
 * output rows whose windows reach it. Byte addresses.
 */
export interface DxRowsJob {
  dx: number;
  rowStart: number;
  rowEnd: number;
  /** Rows a thread takes at a time. */
  block: number;
  /** dx rows and output rows per image, output columns, filter rows, vertical stride and top padding. */
  height: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  strideHeight: number;
  padTop: number;
  /** Bytes: a dx row (W·Ci), a window row (KW·Ci), a horizontal step (sx·Ci) and −padLeft·Ci. */
  rowBytes: number;
  runBytes: number;
  stepBytes: number;
  firstBytes: number;
}
const DX_ROWS_FIELDS = ['dx', 'rowStart', 'rowEnd', 'block', 'height', 'outHeight', 'outWidth', 'filterHeight', 'strideHeight', 'padTop', 'rowBytes', 'runBytes', 'stepBytes', 'firstBytes'] as const;

/**
 * A col2im job: the dx rows receive the window rows of the chunk's output rows [g0, g1) (of all N·Ho),
 * whose dcols start at byte `cols`; a window (KH·KW·Ci) is `patchBytes`.
 */
export interface Col2imJob extends DxRowsJob {
  cols: number;
  g0: number;
  g1: number;
  patchBytes: number;
}
const COL2IM_FIELDS = ['cols', 'g0', 'g1', 'patchBytes', ...DX_ROWS_FIELDS] as const;

/** dx rows that a thread takes at a time from the shared counter of a col2im job. */
const COL2IM_BLOCK = 4;

/**
 * Runs a col2im job: per dx row, one call of the kernel with the row's window rows from the chunk's
 * output rows (consecutive oy, window rows ky = iy + padTop − oy·s). A row is zeroed by the chunk that
 * holds its first output row; rows no window reaches are not touched (the caller zeroes them). The
 * threads of a job take blocks of `block` rows from `counter[0]` (reset to 0 before the job) until none
 * are left, so a thread slowed down (XNNPACK's pool threads spin for ~1 ms after each GEMM and share
 * the cores) leaves its rows to the others. (Also the helper threads' code: it must not refer to
 * anything outside itself.)
 */
export function runCol2imJob(col2imRow: Col2imRow, j: Col2imJob, counter: Int32Array): void {
  const colsRowBytes = j.outWidth * j.patchBytes;
  const contribStep = colsRowBytes - j.strideHeight * j.runBytes;
  claimRows(counter, j.rowStart, j.rowEnd, j.block, (row) => {
    const image = Math.floor(row / j.height);
    const iy = row - image * j.height;
    const [first, last] = windowRows(iy, j.padTop, j.filterHeight, j.strideHeight, j.outHeight);
    const base = image * j.outHeight;
    const from = Math.max(first, j.g0 - base);
    const to = Math.min(last, j.g1 - 1 - base);
    if (from > to) return;
    const ky = iy + j.padTop - from * j.strideHeight;
    const src = j.cols + (base + from - j.g0) * colsRowBytes + ky * j.runBytes;
    col2imRow(src, to - from + 1, contribStep, j.dx + row * j.rowBytes, j.rowBytes, from === first ? 1 : 0, j.outWidth, j.patchBytes, j.stepBytes, j.runBytes, j.firstBytes);
  });
}

/**
 * Takes blocks of `blockSize` rows of [rowStart, rowEnd) from the shared `counter[0]` (reset to 0
 * before the job) and calls `each` for every row taken, until none are left. (Helper-thread code too:
 * it must not refer to anything outside itself.)
 */
export function claimRows(counter: Int32Array, rowStart: number, rowEnd: number, blockSize: number, each: (row: number) => void): void {
  // (The counter is an int32: a block of at most all rows keeps it far from overflowing.)
  const block = Math.max(1, Math.min(blockSize, rowEnd - rowStart));
  for (;;) {
    const blockStart = rowStart + Atomics.add(counter, 0, block);
    if (blockStart >= rowEnd) return;
    const blockEnd = Math.min(rowEnd, blockStart + block);
    for (let row = blockStart; row < blockEnd; row++) each(row);
  }
}

/**
 * The output rows [first, last] whose windows reach input row iy: oy·s − padTop ≤ iy ≤ oy·s − padTop + KH − 1
 * (first > last when none do). (Helper-thread code too.)
 */
export function windowRows(iy: number, padTop: number, filterHeight: number, strideHeight: number, outHeight: number): [number, number] {
  return [Math.max(0, Math.ceil((iy + padTop - filterHeight + 1) / strideHeight)), Math.min(outHeight - 1, Math.floor((iy + padTop) / strideHeight))];
}

/** The source of the job runners and what they call, for a helper thread (`eval` workers). */
export function jobRunnersSource(): string {
  return [runJob, claimRows, windowRows, runCol2imJob, runFusedJob].map((f) => `const ${f.name} = ${f.toString()};`).join('\n');
}

/**
 * A fused input-gradient job (few channels, KW·Ci ≤ 12): the dx rows computed from dy and the padded
 * filter [KH, Co, 12] at `wt`. Byte addresses.
 */
export interface FusedJob extends DxRowsJob {
  dy: number;
  wt: number;
  outChannels: number;
  /** 48 bytes of scratch per thread, the calling thread's first, then one per helper. */
  scratch: number;
}
const FUSED_FIELDS = ['dy', 'wt', 'outChannels', 'scratch', ...DX_ROWS_FIELDS] as const;

/**
 * Runs a fused job on one thread (`thread`: 0 for the calling thread, i for helper i − 1, picking its
 * scratch): per dx row, one call of the kernel with the row's window rows (consecutive oy, window rows
 * ky = iy + padTop − oy·s). Rows no window reaches are not touched (the caller zeroes them). (Also the
 * helper threads' code: it must not refer to anything outside itself.)
 */
export function runFusedJob(kernel: GemmCol2imRow, j: FusedJob, counter: Int32Array, thread: number): void {
  const dyRowBytes = j.outWidth * j.outChannels * 4;
  const wSliceBytes = j.outChannels * 48;
  const scratch = j.scratch + thread * 64;
  claimRows(counter, j.rowStart, j.rowEnd, j.block, (row) => {
    const image = Math.floor(row / j.height);
    const iy = row - image * j.height;
    const [first, last] = windowRows(iy, j.padTop, j.filterHeight, j.strideHeight, j.outHeight);
    if (first > last) return;
    const ky = iy + j.padTop - first * j.strideHeight;
    kernel(
      j.dy + (image * j.outHeight + first) * dyRowBytes, j.wt + ky * wSliceBytes, last - first + 1, dyRowBytes, -j.strideHeight * wSliceBytes,
      j.outChannels, j.dx + row * j.rowBytes, j.rowBytes, 1, j.outWidth, j.stepBytes, j.firstBytes, j.runBytes, scratch,
    );
  });
}

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
const { memory, bytes, control, args, kinds, counter: counterBuffer } = workerData;
const { accumulate, col2imRow, gemmCol2imRow } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
${jobRunnersSource()}
const thread = workerData.thread;
const counter = new Int32Array(counterBuffer);
const runners = [(job) => runJob(accumulate, job), (job) => runCol2imJob(col2imRow, job, counter), (job) => runFusedJob(gemmCol2imRow, job, counter, thread)];
const ctrl = new Int32Array(control);
const values = new Float64Array(args);
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  const kind = values[0];
  const job = {};
  kinds[kind].forEach((name, i) => { job[name] = values[i + 1]; });
  try { runners[kind](job); Atomics.store(ctrl, 2, 0); } catch (e) { Atomics.store(ctrl, 2, 1); }
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
`;

/** The helper's job kinds: their index is args[0], their fields follow in this order. */
const JOB_KINDS = [JOB_FIELDS, COL2IM_FIELDS, FUSED_FIELDS] as const;

/** One helper thread and its mailbox: [0] job posted, [1] job done, [2] 1 if it failed; args: kind, fields. */
interface Helper {
  control: Int32Array;
  args: Float64Array;
  sequence: number;
}

interface Instance {
  accumulate: Accumulate;
  col2imRow: Col2imRow;
  gemmCol2imRow: GemmCol2imRow;
  helpers: Helper[];
  /** The work counter of col2im jobs, shared with the helpers. */
  counter: Int32Array;
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
  const col2imRow = exports.col2imRow as Col2imRow;
  const gemmCol2imRow = exports.gemmCol2imRow as GemmCol2imRow;
  const helpers: Helper[] = [];
  const counter = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 1; shared && i < threads; i++) {
    const control = new SharedArrayBuffer(3 * 4);
    const args = new SharedArrayBuffer((1 + Math.max(...JOB_KINDS.map((fields) => fields.length))) * 8);
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { memory, bytes, control, args, kinds: JOB_KINDS, counter: counter.buffer, thread: i } });
    worker.unref(); // it waits for jobs forever
    helpers.push({ control: new Int32Array(control), args: new Float64Array(args), sequence: 0 });
  }
  const instance = { accumulate, col2imRow, gemmCol2imRow, helpers, counter };
  instances.set(backend.wasm, instance);
  return instance;
}

/** How many helper threads the kernel runs on with this backend (0: the calling thread only). */
export function filterGradientHelpers(backend: WasmBackendInternals): number {
  return kernelFor(backend, backendThreads(backend)).helpers.length;
}

/** Posts `job` (of job kind `kind`, its fields in `fields`) to a helper, which starts it at once. */
function post<T>(helper: Helper, kind: number, fields: readonly (keyof T)[], job: T): void {
  helper.args[0] = kind;
  fields.forEach((name, f) => (helper.args[f + 1] = job[name] as number));
  helper.sequence++;
  Atomics.store(helper.control, 0, helper.sequence);
  Atomics.notify(helper.control, 0);
}

/** Waits until the helper finished its last posted job. */
function waitFor(helper: Helper, kernelName: string): void {
  // The first wait also covers the helper's start-up (instantiating the module) on first use.
  while (Atomics.load(helper.control, 1) !== helper.sequence) Atomics.wait(helper.control, 1, helper.sequence - 1, 1000);
  if (helper.control[2] !== 0) throw new Error(`${kernelName} (focal-yolo wasm kernel): a helper thread failed; use threads: 1.`);
}

/** Runs `jobs[0]` here and the others on the helpers (filter-gradient jobs), and waits for all. */
function runJobs(instance: Instance, jobs: Job[]): void {
  const posted = jobs.slice(1).map((job, i) => {
    post(instance.helpers[i], 0, JOB_FIELDS, job);
    return instance.helpers[i];
  });
  runJob(instance.accumulate, jobs[0]);
  for (const helper of posted) waitFor(helper, 'Conv2DBackpropFilter');
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

/** Below this many floats of dcols a col2im chunk stays on the calling thread (waking a helper costs tens of µs). */
const COL2IM_PARALLEL_MIN = 1 << 16;

/** The col2im job of output rows [g0, g1) (see {@link Col2imJob}); `block`: rows a thread takes at a time. */
export function col2imJob(g: ConvGeometry, cols: number, dx: number, g0: number, g1: number, block: number): Col2imJob {
  const { inHeight: h, inChannels: c, outHeight: ho, filterHeight: kh, filterWidth: kw, strideHeight: sy } = g;
  // dx rows that output rows g0 … g1 − 1 reach (clamped into their images; rows in between that no
  // window of the chunk reaches are skipped by the job).
  const firstImage = Math.floor(g0 / ho);
  const lastImage = Math.floor((g1 - 1) / ho);
  const clampRow = (y: number) => Math.min(h - 1, Math.max(0, y));
  const rowStart = firstImage * h + clampRow((g0 - firstImage * ho) * sy - g.padTop);
  const rowEnd = lastImage * h + clampRow((g1 - 1 - lastImage * ho) * sy - g.padTop + kh - 1) + 1;
  return {
    cols,
    dx,
    g0,
    g1,
    rowStart,
    rowEnd,
    block: Math.min(block, rowEnd - rowStart),
    patchBytes: kh * kw * c * 4,
    ...dxRowsGeometry(g),
  };
}

/** The geometry fields of a {@link DxRowsJob} for the convolution `g`. */
function dxRowsGeometry(g: ConvGeometry): Omit<DxRowsJob, 'dx' | 'rowStart' | 'rowEnd' | 'block'> {
  const c = g.inChannels;
  return {
    height: g.inHeight,
    outHeight: g.outHeight,
    outWidth: g.outWidth,
    filterHeight: g.filterHeight,
    strideHeight: g.strideHeight,
    padTop: g.padTop,
    rowBytes: g.inWidth * c * 4,
    runBytes: g.filterWidth * c * 4,
    stepBytes: g.strideWidth * c * 4,
    firstBytes: -g.padLeft * c * 4,
  };
}

/**
 * Adds the windows of one chunk of dcols (output rows [g0, g1) of all N·Ho, at byte `cols`, [rows, Wo,
 * KH·KW·Ci]) into dx (at byte `dx`) on this thread. Each dx row is zeroed by the chunk holding its
 * first output row: chunks must come in order, and rows that no window reaches must be zeroed by the
 * caller.
 */
export function col2imChunk(backend: WasmBackendInternals, g: ConvGeometry, cols: number, dx: number, g0: number, g1: number): void {
  const instance = kernelFor(backend, backendThreads(backend));
  const job = col2imJob(g, cols, dx, g0, g1, Number.MAX_SAFE_INTEGER);
  Atomics.store(instance.counter, 0, 0);
  runCol2imJob(instance.col2imRow, job, instance.counter);
}

/** The col2im job a helper is running (posted by {@link startCol2im}), per backend module. */
const inFlight = new WeakMap<Instance, Col2imJob>();

/**
 * Starts {@link col2imChunk}'s work on a helper thread and returns at once, so that this thread can
 * run the next chunk's GEMM meanwhile; false (nothing started) when the backend has no helper. The
 * dcols must stay allocated until {@link finishCol2im}, which must come before the next start.
 */
export function startCol2im(backend: WasmBackendInternals, g: ConvGeometry, cols: number, dx: number, g0: number, g1: number): boolean {
  const instance = kernelFor(backend, backendThreads(backend));
  if (instance.helpers.length === 0 || (g1 - g0) * g.outWidth * g.filterHeight * g.filterWidth * g.inChannels < COL2IM_PARALLEL_MIN) return false;
  if (inFlight.has(instance)) throw new Error('Conv2DBackpropInput (focal-yolo wasm kernel): a col2im chunk is still running; finish it first.');
  const job = col2imJob(g, cols, dx, g0, g1, COL2IM_BLOCK);
  Atomics.store(instance.counter, 0, 0);
  post(instance.helpers[0], 1, COL2IM_FIELDS, job);
  inFlight.set(instance, job);
  return true;
}

/**
 * Finishes the chunk started by {@link startCol2im}: this thread takes the rows the helper has not
 * taken yet (both draw blocks of rows from a shared counter: disjoint rows, no races), then waits for
 * the helper's last block.
 */
export function finishCol2im(backend: WasmBackendInternals): void {
  const instance = kernelFor(backend, backendThreads(backend));
  const job = inFlight.get(instance);
  if (job === undefined) return;
  inFlight.delete(instance);
  runCol2imJob(instance.col2imRow, job, instance.counter);
  waitFor(instance.helpers[0], 'Conv2DBackpropInput');
}

/**
 * Rows per block of a fused job shared between threads: neighbouring dx rows read the same dy rows, so
 * blocks of several rows keep them in one core's cache (2 and 8 measured alike under load).
 */
const FUSED_BLOCK = 8;

/** Threads (the caller and its helpers) that {@link fusedInputGradient} runs on with this backend. */
export function fusedThreads(backend: WasmBackendInternals): number {
  return kernelFor(backend, backendThreads(backend)).helpers.length + 1;
}

/**
 * Computes every dx row that some window reaches (each zeroed first, then its window rows added)
 * straight from dy (byte address `dy`) and the filter padded to [KH, Co, 12] (at `wt`), on this thread
 * and, when `parallel`, the helpers, which share the rows through a counter. `scratch`: 64 bytes per
 * thread ({@link fusedThreads}).
 */
export function fusedInputGradient(backend: WasmBackendInternals, g: ConvGeometry, dy: number, wt: number, dx: number, scratch: number, parallel: boolean): void {
  const instance = kernelFor(backend, backendThreads(backend));
  const rows = g.batch * g.inHeight;
  const parts = parallel ? instance.helpers.length + 1 : 1;
  const job: FusedJob = {
    dy,
    wt,
    dx,
    rowStart: 0,
    rowEnd: rows,
    block: parts > 1 ? FUSED_BLOCK : rows,
    outChannels: g.outChannels,
    scratch,
    ...dxRowsGeometry(g),
  };
  Atomics.store(instance.counter, 0, 0);
  const helpers = instance.helpers.slice(0, parts - 1);
  for (const helper of helpers) post(helper, 2, FUSED_FIELDS, job);
  runFusedJob(instance.gemmCol2imRow, job, instance.counter, 0);
  for (const helper of helpers) waitFor(helper, 'Conv2DBackpropInput');
}
