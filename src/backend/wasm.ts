/**
 * Loading the wasm backend in Node.js, optionally as its multi-threaded build.
 *
 * tfjs-backend-wasm ships a threaded SIMD build but never uses it in Node: its feature test answers
 * "no threads" there, and its thread workers start from blob: URLs, which Node's worker_threads cannot
 * load. With `threads > 1` we switch the build on and start the workers from a script file instead (the
 * shim below). On 2 cores it speeds convolutions 1.4–2× but a whole training step only ~10%, so it is
 * opt-in: `initBackend({ threads: 2 })` or `FOCAL_YOLO_THREADS=2`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link configureWasm}. */
export interface WasmOptions {
  /** Threads for the multi-threaded build; 1 (default) uses the single-threaded SIMD build. */
  threads?: number;
}

const WASM_OUT = '@tensorflow/tfjs-backend-wasm/wasm-out';
/** The worker's branch that loads the module factory from a blob: URL (tfjs-backend-wasm 4.22). */
const BLOB_IMPORT =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

let configuredThreads: number | undefined;
let workerScript: string | undefined;

/**
 * Writes the thread worker as a file that loads the module factory with require() rather than from a
 * blob: URL, and returns its path (once per process).
 */
function writeWorkerScript(): string {
  if (workerScript !== undefined) return workerScript;
  const require = createRequire(import.meta.url);
  const { wasmWorkerContents } = require(`${WASM_OUT}/tfjs-backend-wasm-threaded-simd.worker.js`) as { wasmWorkerContents: string };
  if (!wasmWorkerContents.includes(BLOB_IMPORT)) {
    throw new Error('threads > 1: this @tensorflow/tfjs-backend-wasm worker script is not the 4.22 one the Node shim knows; use threads: 1.');
  }
  const factory = require.resolve(`${WASM_OUT}/tfjs-backend-wasm-threaded-simd.js`);
  const source =
    `var WasmBackendModuleThreadedSimd = require(${JSON.stringify(factory)});\n` + wasmWorkerContents.replace(BLOB_IMPORT, '').replace(/\n/g, '\\n'); // its strings hold raw newlines
  const dir = mkdtempSync(join(tmpdir(), 'focal-yolo-wasm-'));
  const path = join(dir, 'wasm-thread-worker.cjs');
  writeFileSync(`${path}.tmp`, source);
  renameSync(`${path}.tmp`, path);
  workerScript = path;
  return path;
}

/** Makes the backend's `URL.createObjectURL(workerBlob)` return our worker file instead. */
function redirectWorkerBlobs(path: string): void {
  const original = URL.createObjectURL.bind(URL);
  const patched = (obj: Blob | MediaSource): string =>
    obj instanceof Blob && obj.type === 'application/javascript' ? path : original(obj as Blob);
  URL.createObjectURL = patched;
}

/**
 * Prepares the wasm backend with the requested thread count; `initBackend({ prefer: 'wasm' })` calls it.
 * With `threads > 1` it also starts (and activates) the wasm backend. The count is fixed per process.
 *
 * @example
 * ```ts
 * import { configureWasm } from 'focal-yolo';
 * import * as tf from '@tensorflow/tfjs-core';
 * await configureWasm({ threads: 2 });   // before the wasm backend starts
 * await tf.setBackend('wasm');
 * ```
 */
export async function configureWasm(opts: WasmOptions = {}): Promise<void> {
  const threads = opts.threads ?? configuredThreads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`threads=${threads} is not a positive integer; use 1 (default) or e.g. 2.`);
  }
  if (configuredThreads !== undefined) {
    if (threads !== configuredThreads) {
      throw new Error(`threads=${threads}: the wasm backend already started with ${configuredThreads} thread(s) in this process; start a new process to change it.`);
    }
    return;
  }
  if (threads > 1 && tf.findBackend('wasm') !== null) {
    throw new Error(`threads=${threads}: the wasm backend already started single-threaded; call configureWasm/initBackend with threads before anything uses 'wasm'.`);
  }
  configuredThreads = threads;
  if (threads === 1) return;
  // The backend's feature test says "no threads" in Node; the threaded build works with the shim.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  redirectWorkerBlobs(writeWorkerScript());
  setThreadsCount(threads);
  // The C++ side caps its pool at half of os.cpus(); report enough cores while it starts.
  const cpus = os.cpus;
  const real = cpus();
  os.cpus = () => Array.from({ length: Math.max(real.length, 2 * threads) }, (_, i) => real[i % real.length]);
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error(`threads=${threads}: the multi-threaded wasm backend did not start; use threads: 1.`);
  } finally {
    os.cpus = cpus;
  }
  // Started now so that the pool's workers, which wait for work forever, can be unref'd.
  releaseThreadWorkers();
}

/** The number of threads the started wasm backend uses (1 for the single-threaded build). */
export function wasmThreads(): number {
  return configuredThreads !== undefined && configuredThreads > 1 ? getThreadsCount() : 1;
}

/** Unrefs the thread pool's workers, which wait for work forever. */
function releaseThreadWorkers(): void {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { runningWorkers?: { unref(): void }[] } } } | null;
  for (const worker of backend?.wasm?.PThread?.runningWorkers ?? []) worker.unref();
}
