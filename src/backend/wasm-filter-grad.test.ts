import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BYTES_PATH, compileKernel, generatedSource, WAT_PATH } from '../../scripts/wasm-kernel.js';
import { FILTER_GRAD_WASM, FILTER_GRAD_WASM_SHARED } from './wasm-filter-grad-bytes.js';

test('the committed filter-gradient wasm bytes are the compiled .wat source (npm run build:wasm-kernel)', async () => {
  const source = readFileSync(WAT_PATH, 'utf8');
  assert.equal(readFileSync(BYTES_PATH, 'utf8'), await generatedSource(source), 'wasm-filter-grad-bytes.ts is stale: run npm run build:wasm-kernel');
  // Both variants decode to valid modules with the two exports, importing a plain / a shared memory.
  for (const [base64, shared] of [[FILTER_GRAD_WASM, false], [FILTER_GRAD_WASM_SHARED, true]] as const) {
    const module = new WebAssembly.Module(Buffer.from(base64, 'base64'));
    assert.deepEqual(WebAssembly.Module.exports(module), [{ name: 'accumulate', kind: 'function' }, { name: 'addRuns', kind: 'function' }]);
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

test('addRuns adds runs window by window, overlapping windows accumulating in order (hand-computed case)', async () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const { addRuns } = new WebAssembly.Instance(new WebAssembly.Module(await compileKernel(readFileSync(WAT_PATH, 'utf8'), false)), { env: { memory } }).exports as {
    addRuns: (...args: number[]) => void;
  };
  const f = new Float32Array(memory.buffer);
  for (const run of [1, 3, 4, 9, 13]) {
    // src: 4 windows of `run` values, 16 floats apart, at float 0; dst at float 512, windows 2 floats apart
    // (they overlap whenever run > 2), starting from dst[k] = k.
    f.fill(0);
    for (let w = 0; w < 4; w++) for (let k = 0; k < run; k++) f[16 * w + k] = (w + 1) * 100 + k;
    for (let k = 0; k < 64; k++) f[512 + k] = k;
    const expected = Array.from({ length: 64 }, (_, k) => k);
    for (let w = 0; w < 4; w++) for (let k = 0; k < run; k++) expected[2 * w + k] += (w + 1) * 100 + k;
    addRuns(0, 512 * 4, 4, run, 16 * 4, 2 * 4);
    assert.deepEqual(Array.from(f.subarray(512, 576)), expected, `run ${run}`);
    // count 0 changes nothing
    addRuns(0, 512 * 4, 0, run, 16 * 4, 2 * 4);
    assert.deepEqual(Array.from(f.subarray(512, 576)), expected, `run ${run}, count 0`);
  }
});
