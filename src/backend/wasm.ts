/** Loading the wasm backend in Node.js. */
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/** Options of {@link configureWasm}. */
export interface WasmOptions {
  /** Threads for the multi-threaded build; 1 (default) uses the single-threaded SIMD build. */
  threads?: number;
}

/** Registers the wasm backend (imported for its side effect) with the requested thread count. */
export async function configureWasm(opts: WasmOptions = {}): Promise<void> {
  const threads = opts.threads ?? 1;
  if (threads > 1) setThreadsCount(threads);
}
