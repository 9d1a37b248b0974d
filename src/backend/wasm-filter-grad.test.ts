import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BYTES_PATH, compileKernel, generatedSource, WAT_PATH } from '../../scripts/wasm-kernel.js';
import { Worker } from 'node:worker_threads';
import type { ConvGeometry } from './wasm-conv-common.js';
import { col2imJob, jobRunnersSource, runCol2imJob, runFusedJob, type Col2imRow, type FusedJob, type GemmCol2imRow } from './wasm-filter-grad.js';
import { FILTER_GRAD_WASM, FILTER_GRAD_WASM_SHARED } from './wasm-filter-grad-bytes.js';

test('the committed filter-gradient wasm bytes are the compiled .wat source (npm run build:wasm-kernel)', async () => {
  const source = readFileSync(WAT_PATH, 'utf8');
  assert.equal(readFileSync(BYTES_PATH, 'utf8'), await generatedSource(source), 'wasm-filter-grad-bytes.ts is stale: run npm run build:wasm-kernel');
  // Both variants decode to valid modules with the two exports, importing a plain / a shared memory.
  for (const [base64, shared] of [[FILTER_GRAD_WASM, false], [FILTER_GRAD_WASM_SHARED, true]] as const) {
    const module = new WebAssembly.Module(Buffer.from(base64, 'base64'));
    assert.deepEqual(WebAssembly.Module.exports(module), [{ name: 'accumulate', kind: 'function' }, { name: 'col2imRow', kind: 'function' }, { name: 'gemmCol2imRow', kind: 'function' }]);
    assert.deepEqual(WebAssembly.Module.imports(module), [{ module: 'env', name: 'memory', kind: 'memory' }]);
    const memory = new WebAssembly.Memory(shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
    assert.ok(new WebAssembly.Instance(module, { env: { memory } }));
  }
});

test('the kernel accumulates x-tap × dy products over pixels and rows (hand-computed case)', async () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const { accumulate } = new WebAssembly.Instance(new WebAssembly.Module(await compileKernel(readFileSync(WAT_PATH, 'utf8'), false)), { env: { memory } }).exports as {
    accumulate: (...args: number[]) => void;
  };
  const f = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  // x: 2 rows of 3 values at float 0 (row step 4 floats); dy: 2 rows × 3 pixels × 8 channels at float 64.
  const x = [1, 2, 3, 0, 4, 5, 6, 0];
  f.set(x, 0);
  for (let k = 0; k < 48; k++) f[64 + k] = (k % 7) - 3;
  // 4 taps: offsets 0, 1, 0, 2 floats; accumulators (4 × 8) at float 256, starting at 1.
  i32.set([0, 4, 0, 8], 128);
  f.fill(1, 256, 256 + 32);
  accumulate(0, 4, 16, 64 * 4, 32, 96, 3, 2, 128 * 4, 1, 256 * 4, 1);
  // Pixel i of row r reads x[4r + i + tap], dy[64 + 24r + 8i + c].
  const tapFloats = [0, 1, 0, 2];
  for (let t = 0; t < 4; t++) {
    for (let c = 0; c < 8; c++) {
      let expected = 1;
      for (let r = 0; r < 2; r++) for (let i = 0; i < 3; i++) expected += (x[4 * r + i + tapFloats[t]] ?? 0) * f[64 + 24 * r + 8 * i + c];
      assert.equal(f[256 + t * 8 + c], expected, `tap ${t} channel ${c}`);
    }
  }
});

/** The geometry of a convolution x [n, h, w, c] → [n, ho, wo, ·] with k×k taps, stride s and top/left pads. */
function geometry(n: number, h: number, w: number, c: number, k: number, s: number, padTop: number, padLeft: number, padBottom: number, padRight: number): ConvGeometry {
  return {
    batch: n,
    inHeight: h,
    inWidth: w,
    inChannels: c,
    outHeight: Math.floor((h + padTop + padBottom - k) / s) + 1,
    outWidth: Math.floor((w + padLeft + padRight - k) / s) + 1,
    outChannels: 1,
    filterHeight: k,
    filterWidth: k,
    strideHeight: s,
    strideWidth: s,
    padTop,
    padLeft,
  };
}

/**
 * The textbook col2im, tap by tap with bounds checks: dx[n, oy·s − padTop + ky, ox·s − padLeft + kx, ci]
 * += dcols[(n, oy, ox), (ky, kx, ci)]. Also which dx rows some tap reaches.
 */
function referenceCol2im(g: ConvGeometry, cols: Float32Array): { dx: Float32Array; reached: boolean[] } {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: k, strideHeight: s } = g;
  const dx = new Float32Array(n * h * w * c);
  const reached = new Array<boolean>(n * h).fill(false);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const iy = oy * s - g.padTop + ky;
            const ix = ox * s - g.padLeft + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            reached[b * h + iy] = true;
            for (let ci = 0; ci < c; ci++) dx[((b * h + iy) * w + ix) * c + ci] += cols[((b * ho + oy) * wo + ox) * k * k * c + (ky * k + kx) * c + ci];
          }
        }
      }
    }
  }
  return { dx, reached };
}

async function col2imKernel(memory: WebAssembly.Memory, shared: boolean): Promise<Col2imRow> {
  const bytes = await compileKernel(readFileSync(WAT_PATH, 'utf8'), shared);
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.col2imRow as Col2imRow;
}

/** Small integers (sums of them are exact in float32, in any order). */
function integers(size: number, seed: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => ((i * 7919 + seed * 104729) % 17) - 8);
}

test('col2imRow adds every window into dx: edges, odd/even sizes, paddings, strides 1–3, chunks, blocks', async () => {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const col2imRow = await col2imKernel(memory, false);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const cases: [number, number, number, number, number, number, number, number, number, number][] = [
    // n, h, w, c, k, s, padTop, padLeft, padBottom, padRight
    [2, 7, 7, 3, 3, 1, 1, 1, 1, 1], // 'same', stride 1: three window rows per dx row
    [2, 8, 9, 3, 3, 2, 0, 1, 1, 1], // the stem's 'same' stride 2 (pad after only in y)
    [1, 9, 8, 3, 3, 2, 1, 0, 0, 0], // odd height, 'valid'-like bottom: unreached rows/columns
    [2, 6, 5, 1, 2, 2, 0, 0, 0, 1], // even kernel: windows never overlap
    [1, 11, 12, 4, 3, 3, 0, 0, 0, 0], // stride > kernel: rows and columns no window reaches
    [1, 4, 4, 3, 5, 1, 4, 0, 0, 4], // padding as wide as the image on one side, 5×5
    [2, 5, 7, 7, 1, 2, 0, 0, 0, 0], // 1×1 stride 2
    [1, 10, 10, 2, 3, 2, 2, 2, 2, 2], // padding wider than half the kernel
  ];
  for (const [n, h, w, c, k, s, pt, pl, pb, pr] of cases) {
    const g = geometry(n, h, w, c, k, s, pt, pl, pb, pr);
    const outRows = n * g.outHeight;
    const patch = k * k * c;
    const cols = integers(outRows * g.outWidth * patch, h * 31 + w + k);
    const { dx: expected, reached } = referenceCol2im(g, cols);
    // Chunks of 1, 2, 3 output rows and all rows at once (crossing image borders), blocks of 1, 3 and all rows.
    for (const chunkRows of [1, 2, 3, outRows]) {
      for (const block of [1, 3, Number.MAX_SAFE_INTEGER]) {
        const heap = new Float32Array(memory.buffer);
        const colsAt = 64;
        const dxAt = colsAt + cols.length + 64;
        heap.set(cols, colsAt);
        // Guards around dx, and dx starts as garbage: every reached row must be zeroed by col2im; unreached rows are the caller's.
        heap.fill(12345, colsAt + cols.length, dxAt);
        heap.fill(12345, dxAt + expected.length, dxAt + expected.length + 64);
        heap.fill(Number.NaN, dxAt, dxAt + expected.length);
        reached.forEach((r, row) => {
          if (!r) heap.fill(0, dxAt + row * w * c, dxAt + (row + 1) * w * c);
        });
        for (let g0 = 0; g0 < outRows; g0 += chunkRows) {
          const g1 = Math.min(outRows, g0 + chunkRows);
          counter[0] = 0;
          runCol2imJob(col2imRow, col2imJob(g, (colsAt + g0 * g.outWidth * patch) * 4, dxAt * 4, g0, g1, block), counter);
        }
        const what = `x [${n}, ${h}, ${w}, ${c}] ${k}×${k} s${s} pads ${[pt, pl, pb, pr]}, chunks of ${chunkRows} rows, blocks of ${block}`;
        assert.deepEqual(Array.from(heap.subarray(dxAt, dxAt + expected.length)), Array.from(expected), what);
        // Nothing written outside dx.
        const guards = [...heap.subarray(colsAt + cols.length, dxAt), ...heap.subarray(dxAt + expected.length, dxAt + expected.length + 64)];
        assert.ok(guards.every((v) => v === 12345), `${what}: a write outside dx`);
      }
    }
  }
});

test('col2im splits a chunk between two threads on a shared memory (disjoint rows, shared counter)', async () => {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const col2imRow = await col2imKernel(memory, true);
  const bytes = await compileKernel(readFileSync(WAT_PATH, 'utf8'), true);
  const g = geometry(2, 40, 36, 3, 3, 2, 0, 0, 1, 1);
  const outRows = g.batch * g.outHeight;
  const cols = integers(outRows * g.outWidth * 27, 5);
  const { dx: expected } = referenceCol2im(g, cols);
  const heap = new Float32Array(memory.buffer);
  const colsAt = 16;
  const dxAt = colsAt + cols.length + 16;
  heap.set(cols, colsAt);
  heap.fill(Number.NaN, dxAt, dxAt + expected.length);
  const job = col2imJob(g, colsAt * 4, dxAt * 4, 0, outRows, 1);
  const { calls, other } = await twoThreads(memory, bytes, 'col2imRow', 'runCol2imJob(kernelCall, d.job, counter)', job, (counter, kernelCall) =>
    runCol2imJob((...args: Parameters<Col2imRow>) => kernelCall(() => col2imRow(...args)), job, counter),
  );
  assert.ok(other > 0 && calls > 0, `both threads added rows (this ${calls}, other ${other})`);
  assert.equal(other + calls, job.rowEnd - job.rowStart, 'every row once');
  assert.deepEqual(Array.from(heap.subarray(dxAt, dxAt + expected.length)), Array.from(expected));
});

/** dcols [(n, oy, ox), (ky, kx, ci)] = dy [·, co] × filter [ky, kx, ci, co]ᵀ, by plain loops. */
function referenceCols(g: ConvGeometry, dy: Float32Array, filter: Float32Array): Float32Array {
  const patch = g.filterHeight * g.filterWidth * g.inChannels;
  const m = g.batch * g.outHeight * g.outWidth;
  const cols = new Float32Array(m * patch);
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < patch; t++) {
      let sum = 0;
      for (let o = 0; o < g.outChannels; o++) sum += dy[i * g.outChannels + o] * filter[t * g.outChannels + o];
      cols[i * patch + t] = sum;
    }
  }
  return cols;
}

/** Lays out dy, the filter as [KH, Co, 12] and dx (NaN, unreached rows 0, guards around) on the heap; the fused job. */
function fusedSetup(heap: Float32Array, g: ConvGeometry, dy: Float32Array, filter: Float32Array, reached: boolean[], block: number): { job: FusedJob; dxAt: number; guards: () => number[] } {
  const { filterHeight: kh, filterWidth: kw, inChannels: c, outChannels: co } = g;
  const dyAt = 64;
  const wtAt = dyAt + dy.length + 16;
  const scratchAt = wtAt + kh * co * 12;
  const dxAt = scratchAt + 2 * 16 + 64;
  const dxSize = g.batch * g.inHeight * g.inWidth * c;
  heap.fill(0, 0, dxAt + dxSize + 64);
  heap.set(dy, dyAt);
  for (let ky = 0; ky < kh; ky++) {
    for (let t = 0; t < kw * c; t++) for (let o = 0; o < co; o++) heap[wtAt + (ky * co + o) * 12 + t] = filter[(ky * kw * c + t) * co + o];
  }
  heap.fill(12345, dxAt - 64, dxAt);
  heap.fill(12345, dxAt + dxSize, dxAt + dxSize + 64);
  heap.fill(Number.NaN, dxAt, dxAt + dxSize);
  reached.forEach((r, row) => {
    if (!r) heap.fill(0, dxAt + row * g.inWidth * c, dxAt + (row + 1) * g.inWidth * c);
  });
  const job: FusedJob = {
    dy: dyAt * 4,
    wt: wtAt * 4,
    dx: dxAt * 4,
    rowStart: 0,
    rowEnd: g.batch * g.inHeight,
    block,
    height: g.inHeight,
    outHeight: g.outHeight,
    outWidth: g.outWidth,
    outChannels: co,
    filterHeight: kh,
    strideHeight: g.strideHeight,
    padTop: g.padTop,
    rowBytes: g.inWidth * c * 4,
    stepBytes: g.strideWidth * c * 4,
    firstBytes: -g.padLeft * c * 4,
    runBytes: kw * c * 4,
    scratch: scratchAt * 4,
  };
  const guards = () => [...heap.subarray(dxAt - 64, dxAt), ...heap.subarray(dxAt + dxSize, dxAt + dxSize + 64)];
  return { job, dxAt, guards };
}

test('gemmCol2imRow computes and adds every window row from dy and the filter: edges, blocks, strides, paddings', async () => {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const bytes = await compileKernel(readFileSync(WAT_PATH, 'utf8'), false);
  const kernel = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemmCol2imRow as GemmCol2imRow;
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const cases: [number, number, number, number, number, number, number, number, number, number, number][] = [
    // n, h, w, c, k, s, padTop, padLeft, padBottom, padRight, co
    [2, 8, 9, 3, 3, 2, 0, 1, 1, 1, 5], // the stem's 'same' stride 2; 5 output columns: blocks of 3 + 2
    [2, 7, 7, 3, 3, 1, 1, 1, 1, 1, 32], // stride 1, three window rows per dx row, Co 32
    [1, 9, 8, 3, 3, 2, 1, 0, 0, 0, 3], // unreached rows and columns at the bottom/right
    [1, 5, 4, 4, 3, 1, 0, 0, 0, 0, 2], // KW·Ci = 12, the most the kernel takes; 'valid'
    [2, 6, 5, 1, 2, 2, 0, 0, 0, 1, 1], // KW·Ci = 2, Co 1, even kernel
    [1, 11, 12, 2, 3, 3, 0, 0, 0, 0, 7], // stride > kernel: gaps
    [1, 4, 4, 3, 3, 1, 2, 2, 2, 2, 4], // padding wider than the kernel's half: windows clipped on both sides
    [2, 5, 7, 3, 1, 2, 0, 0, 0, 0, 6], // 1×1 stride 2
    [1, 6, 1, 3, 3, 1, 1, 1, 1, 1, 3], // one column: every window clipped on both sides
  ];
  for (const [n, h, w, c, k, s, pt, pl, pb, pr, co] of cases) {
    const g = { ...geometry(n, h, w, c, k, s, pt, pl, pb, pr), outChannels: co };
    const dy = integers(n * g.outHeight * g.outWidth * co, h + 7 * w + co);
    const filter = integers(k * k * c * co, 3 * k + c);
    const { dx: expected, reached } = referenceCol2im(g, referenceCols(g, dy, filter));
    for (const block of [1, 4, Number.MAX_SAFE_INTEGER]) {
      const heap = new Float32Array(memory.buffer);
      const { job, dxAt, guards } = fusedSetup(heap, g, dy, filter, reached, block);
      counter[0] = 0;
      runFusedJob(kernel, job, counter, 0);
      const what = `x [${n}, ${h}, ${w}, ${c}] ${k}×${k}→${co} s${s} pads ${[pt, pl, pb, pr]}, blocks of ${block}`;
      assert.deepEqual(Array.from(heap.subarray(dxAt, dxAt + expected.length)), Array.from(expected), what);
      assert.ok(guards().every((v) => v === 12345), `${what}: a write outside dx`);
    }
  }
});

test('the fused kernel splits dx rows between two threads on a shared memory', async () => {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const bytes = await compileKernel(readFileSync(WAT_PATH, 'utf8'), true);
  const kernel = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemmCol2imRow as GemmCol2imRow;
  const g = { ...geometry(2, 40, 36, 3, 3, 2, 0, 0, 1, 1), outChannels: 8 };
  const dy = integers(g.batch * g.outHeight * g.outWidth * 8, 9);
  const filter = integers(3 * 3 * 3 * 8, 10);
  const { dx: expected, reached } = referenceCol2im(g, referenceCols(g, dy, filter));
  const heap = new Float32Array(memory.buffer);
  const { job, dxAt, guards } = fusedSetup(heap, g, dy, filter, reached, 1);
  const { calls, other } = await twoThreads(memory, bytes, 'gemmCol2imRow', 'runFusedJob(kernelCall, d.job, counter, 1)', job, (counter, kernelCall) =>
    runFusedJob((...args: Parameters<GemmCol2imRow>) => kernelCall(() => kernel(...args)), job, counter, 0),
  );
  const reachedRows = reached.filter((r) => r).length;
  assert.ok(other > 0 && calls > 0, `both threads computed rows (this ${calls}, other ${other})`);
  assert.equal(other + calls, reachedRows, 'every reached row once');
  assert.deepEqual(Array.from(heap.subarray(dxAt, dxAt + expected.length)), Array.from(expected));
  assert.ok(guards().every((v) => v === 12345), 'a write outside dx');
});

/**
 * Runs a row-sharing job on this thread and a worker thread over a shared memory: `workerRun` is the
 * worker's call (with `kernelCall`, the wasm export counting its rows, `d.job` and `counter` in scope),
 * `localRun` this thread's, which waits before its first row until the worker has done one, so that
 * both take part. Returns the rows each did.
 */
async function twoThreads(
  memory: WebAssembly.Memory,
  bytes: Uint8Array,
  exportName: string,
  workerRun: string,
  job: object,
  localRun: (counter: Int32Array, kernelCall: (row: () => void) => void) => void,
): Promise<{ calls: number; other: number }> {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  // [0]: start flag, [1]: rows done by the other thread.
  const sync = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData: d, parentPort } = require('node:worker_threads');
     const kernel = new WebAssembly.Instance(new WebAssembly.Module(d.bytes), { env: { memory: d.memory } }).exports.${exportName};
     ${jobRunnersSource()}
     const sync = new Int32Array(d.sync);
     const counter = new Int32Array(d.counter);
     const kernelCall = (...args) => { kernel(...args); Atomics.add(sync, 1, 1); Atomics.notify(sync, 1); };
     Atomics.wait(sync, 0, 0);
     ${workerRun};
     parentPort.postMessage('done');`,
    { eval: true, workerData: { bytes, memory, sync: sync.buffer, counter: counter.buffer, job } },
  );
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  Atomics.store(sync, 0, 1);
  Atomics.notify(sync, 0);
  let calls = 0;
  localRun(counter, (row) => {
    if (calls++ === 0) while (Atomics.load(sync, 1) === 0) Atomics.wait(sync, 1, 0, 5000);
    row();
  });
  await done;
  await worker.terminate();
  return { calls, other: Atomics.load(sync, 1) };
}
