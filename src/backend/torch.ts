/**
 * The `torch` TensorFlow.js backend: tfjs's ops, autodiff and memory bookkeeping on libtorch
 * kernels, through the Node-API addon in native/. `initBackend()` loads it through
 * {@link registerTorchBackend}; tfjs code runs on it unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu'; // registers the cpu kernels the fallback runs
import { availableParallelism } from 'node:os';
import { loadTorchAddon } from './torch-addon.js';
import { TorchBackend } from './torch-backend.js';
import { runOnCpu } from './torch-fallback.js';
import { FUSED_KERNELS } from './torch-fused.js';
import { NATIVE_KERNELS } from './torch-kernels.js';

export { fallbackKernelsUsed } from './torch-fallback.js';
export { NATIVE_KERNELS } from './torch-kernels.js';

/** Options of {@link registerTorchBackend}. */
export interface TorchBackendOptions {
  /** libtorch intra-op threads; default `FOCAL_YOLO_THREADS`, else every core. */
  threads?: number;
}

let kernelsRegistered = false;

function threadCount(opts: TorchBackendOptions): number {
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) {
      throw new Error(`threads=${opts.threads} is not a positive integer; pass e.g. 1 or ${availableParallelism()}.`);
    }
    return opts.threads;
  }
  const raw = process.env.FOCAL_YOLO_THREADS;
  if (raw === undefined || raw === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`FOCAL_YOLO_THREADS=${raw} is not a positive integer; set it to e.g. 1 or 2, or unset it.`);
  }
  return n;
}

/**
 * Sets libtorch's intra-op thread count (the torch backend's parallelism).
 *
 * @example
 * ```ts
 * import { setTorchThreads } from 'focal-yolo';
 * setTorchThreads(1); // deterministic single-thread timings
 * ```
 */
export function setTorchThreads(threads: number): void {
  loadTorchAddon().setThreads(threadCount({ threads }));
}

/**
 * Releases the blocks the torch backend's caching allocator keeps for reuse (freed tensors of 1 MiB
 * and more, at most FOCAL_YOLO_ALLOCATOR_CACHE_MB, default 1024) and returns the bytes released.
 * Call it after training, before memory-hungry work outside libtorch.
 *
 * @example
 * ```ts
 * import { trimTorchAllocator } from 'focal-yolo';
 * const released = trimTorchAllocator();
 * console.log(`${(released / 2 ** 20).toFixed(0)} MiB returned to the system`);
 * ```
 */
export function trimTorchAllocator(): number {
  return loadTorchAddon().trimAllocator();
}

/** libtorch's current intra-op thread count. */
export function torchThreads(): number {
  return loadTorchAddon().threads();
}

/**
 * Loads the libtorch addon and registers the `torch` backend and its kernels with tfjs: every
 * kernel in {@link NATIVE_KERNELS} runs natively, any other kernel tfjs's cpu backend knows runs
 * there on copies (with a one-time warning naming it). Throws when the addon is not built.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { registerTorchBackend } from 'focal-yolo';
 * await registerTorchBackend({ threads: 2 });
 * await tf.setBackend('torch');
 * tf.conv2d(tf.ones([1, 8, 8, 3]), tf.ones([3, 3, 3, 4]), 1, 'same').print();
 * ```
 */
export function registerTorchBackend(opts: TorchBackendOptions = {}): Promise<void> {
  const addon = loadTorchAddon();
  addon.setThreads(threadCount(opts));
  // Priority above wasm (2) and cpu (1): plain tfjs code picks torch when it is registered.
  // (Again after tf.removeBackend('torch'); the kernel registry outlives backends.)
  if (tf.findBackendFactory('torch') === null) tf.registerBackend('torch', () => new TorchBackend(addon), 3);
  if (kernelsRegistered) return Promise.resolve();
  kernelsRegistered = true;
  for (const [kernelName, run] of Object.entries(NATIVE_KERNELS)) {
    tf.registerKernel({
      kernelName,
      backendName: 'torch',
      kernelFunc: ({ inputs, backend, attrs }) => run(backend as TorchBackend, inputs, (attrs ?? {}) as Record<string, unknown>),
    });
  }
  for (const [kernelName, run] of Object.entries(FUSED_KERNELS)) {
    tf.registerKernel({
      kernelName,
      backendName: 'torch',
      kernelFunc: ({ inputs, backend, attrs }) => run(backend as TorchBackend, inputs, (attrs ?? {}) as Record<string, unknown>),
    });
  }
  for (const { kernelName } of tf.getKernelsForBackend('cpu')) {
    if (kernelName in NATIVE_KERNELS) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'torch',
      kernelFunc: ({ inputs, backend, attrs }) => runOnCpu(kernelName, { inputs, backend: backend as TorchBackend, attrs }),
    });
  }
  return Promise.resolve();
}
