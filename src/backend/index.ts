/**
 * Choosing and preparing the TensorFlow.js backend.
 *
 * `initBackend()` picks, in order: an explicitly requested backend (option or the
 * `FOCAL_YOLO_BACKEND` environment variable), then `torch` (the libtorch addon, when built),
 * `tfjs-node` (when the user installed it), `wasm` (with our convolution-gradient kernels), `cpu`.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; the union package's bundle carries and
// registers all of them (it also registers the cpu backend). Every training path needs them.
import '@tensorflow/tfjs';
import { installTapeFreeing } from './tape-memory.js';
import { registerWasmKernels } from './wasm-kernels.js';

/** The backends focal-yolo knows how to start. */
export type BackendName = 'torch' | 'tfjs-node' | 'wasm' | 'cpu';

/** The order `initBackend` tries when nothing is requested. */
export const BACKEND_ORDER: readonly BackendName[] = ['torch', 'tfjs-node', 'wasm', 'cpu'];

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Use this backend; an error if it cannot start. Defaults to `FOCAL_YOLO_BACKEND`, else automatic. */
  prefer?: BackendName;
  /** Worker threads for wasm (opt-in multi-threaded build; default 1); libtorch threads for torch (default all cores). */
  threads?: number;
  /** Do not log the chosen backend. */
  quiet?: boolean;
}

let logged = false;

function isBackendName(name: string): name is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(name);
}

/** Loads the backend's module and registers it with tfjs; throws if it is not available. */
async function prepare(name: BackendName, opts: InitBackendOptions): Promise<void> {
  switch (name) {
    case 'torch': {
      // Loaded on demand: it throws a one-line "how to build" error when the addon is not built.
      const mod = await import('./torch.js');
      await mod.registerTorchBackend({ threads: opts.threads });
      return;
    }
    case 'tfjs-node': {
      // Optional peer dependency; registers the 'tensorflow' backend when it loads.
      const moduleName = '@tensorflow/tfjs-node';
      await import(moduleName);
      return;
    }
    case 'wasm': {
      const { configureWasm } = await import('./wasm.js');
      await configureWasm({ threads: opts.threads ?? envThreads() });
      registerWasmKernels();
      return;
    }
    case 'cpu': {
      await import('@tensorflow/tfjs-backend-cpu');
      // The cpu backend's first write prints a banner advertising tfjs-node; we choose backends ourselves.
      const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
      if (cpu) cpu.firstUse = false;
      return;
    }
  }
}

/** The tfjs registry name of each of our backends. */
function tfName(name: BackendName): string {
  return name === 'tfjs-node' ? 'tensorflow' : name;
}

function envThreads(): number | undefined {
  const raw = process.env.FOCAL_YOLO_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`FOCAL_YOLO_THREADS=${raw} is not a positive integer; set it to e.g. 1 or 2, or unset it.`);
  }
  return n;
}

/**
 * Starts the best available TensorFlow.js backend and returns its name.
 *
 * @example
 * ```ts
 * import { initBackend } from 'focal-yolo';
 * const name = await initBackend();              // 'torch' | 'tfjs-node' | 'wasm' | 'cpu'
 * await initBackend({ prefer: 'cpu' });          // force one; throws if it cannot start
 * ```
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendName> {
  // Gradients are freed as backprop goes (every backend): a training step's peak memory no longer holds all of them.
  installTapeFreeing();
  const env = process.env.FOCAL_YOLO_BACKEND;
  const requested = opts.prefer ?? (env !== undefined && env !== '' ? env : undefined);
  if (requested !== undefined && !isBackendName(requested)) {
    const from = opts.prefer !== undefined ? 'prefer' : 'FOCAL_YOLO_BACKEND';
    throw new Error(`${from}='${requested}' is not a backend; use one of ${BACKEND_ORDER.join(', ')}.`);
  }
  const candidates = requested !== undefined ? [requested] : BACKEND_ORDER;
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      await prepare(name, opts);
      const ok = await tf.setBackend(tfName(name));
      if (!ok) throw new Error('tf.setBackend returned false');
      await tf.ready();
      if (!logged && opts.quiet !== true) {
        logged = true;
        console.error(`[focal-yolo] backend: ${name}`);
      }
      return name;
    } catch (err) {
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      failures.push(`${name}: ${message}`);
    }
  }
  if (requested !== undefined) {
    throw new Error(`backend '${requested}' could not start (${failures.join('; ')}); pick another with --backend or FOCAL_YOLO_BACKEND.`);
  }
  throw new Error(`no TensorFlow.js backend could start: ${failures.join('; ')}`);
}

/** The names of backends that start on this machine (tries each; leaves the current one active). */
export async function availableBackends(): Promise<BackendName[]> {
  const current = tf.getBackend();
  const found: BackendName[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      await initBackend({ prefer: name, quiet: true });
      found.push(name);
    } catch {
      // not available here
    }
  }
  if (current) await tf.setBackend(current);
  return found;
}
export { registerWasmKernels, WASM_KERNELS } from './wasm-kernels.js';
export { installTapeFreeing, setTapeFreeing } from './tape-memory.js';
export { registerTorchBackend, setTorchThreads, torchThreads, trimTorchAllocator, fallbackKernelsUsed, type TorchBackendOptions } from './torch.js';
