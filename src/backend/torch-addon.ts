/**
 * Loading the libtorch addon (`native/build/focal_yolo_torch.node`, built by `npm run build:native`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** dtype codes shared with native/addon.cc. */
export const DTYPE_CODES = { float32: 0, int32: 1, bool: 2 } as const;
/** The tfjs dtypes the addon stores natively. */
export type NativeDtype = keyof typeof DTYPE_CODES;
/** tfjs dtype of each native dtype code. */
export const DTYPE_OF_CODE: readonly NativeDtype[] = ['float32', 'int32', 'bool'];

/** Attribute values the native kernels read. */
export type NativeAttrs = Record<string, number | boolean | string | number[] | undefined>;

/** The functions the addon exports (see native/addon.cc). */
export interface TorchAddon {
  /** Copies `values` into a new tensor and returns its id. */
  create(values: Float32Array | Int32Array | Uint8Array, shape: number[], dtypeCode: number): number;
  /** Copies a tensor out. */
  read(id: number): Float32Array | Int32Array | Uint8Array;
  /** Releases a tensor id (idempotent). */
  free(id: number): void;
  /** Runs a native kernel; each output is `[id, dtypeCode, ...shape]`. */
  op(name: string, ids: number[], attrs?: NativeAttrs): number[][];
  /** The names of the native kernels. */
  kernels(): string[];
  /** Sets libtorch's intra-op thread count. */
  setThreads(n: number): void;
  /** libtorch's intra-op thread count. */
  threads(): number;
  /** Tensors and bytes held by the addon. */
  live(): { tensors: number; bytes: number; convertedWeights: number };
  /** libtorch's build configuration. */
  config(): string;
  /** The caching allocator's state (native/allocator.cc); `enabled: false` under FOCAL_YOLO_CACHING_ALLOCATOR=0. */
  allocator(): TorchAllocatorStats;
  /** Frees every block the caching allocator holds for reuse; returns the bytes released. */
  trimAllocator(): number;
}

/** What the addon's caching allocator holds: blocks ≥ 1 MiB kept on free for reuse. */
export interface TorchAllocatorStats {
  enabled: boolean;
  /** Bytes and blocks held for reuse. */
  cachedBytes?: number;
  cachedBlocks?: number;
  /** Bytes of large blocks in use by tensors. */
  liveBytes?: number;
  /** Most bytes the cache holds (FOCAL_YOLO_ALLOCATOR_CACHE_MB, default 1024 MiB). */
  limitBytes?: number;
  /** Large allocations served from the cache, and from the system. */
  hits?: number;
  misses?: number;
  /** Bytes released to the system because the cache was full. */
  releasedBytes?: number;
}

/** Where the built addon lives (the same relative path from src/backend and dist/backend). */
export const ADDON_PATH = fileURLToPath(new URL('../../native/build/focal_yolo_torch.node', import.meta.url));

let addon: TorchAddon | undefined;

/** Loads the addon once; throws a one-line error saying how to build it when it is missing. */
export function loadTorchAddon(): TorchAddon {
  if (addon !== undefined) return addon;
  if (!existsSync(ADDON_PATH)) {
    throw new Error(
      `the torch backend's addon ${ADDON_PATH} is not built; install libtorch (apt-get install libtorch-dev libopenblas0 or set LIBTORCH) and run 'npm run build:native'.`,
    );
  }
  // libgomp reads this when libtorch loads. Its default (spin-waiting between parallel regions) is
  // ~30× slower on a machine shared with other processes; sleeping threads cost little when it is idle.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as TorchAddon;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`the torch backend's addon ${ADDON_PATH} does not load (${message}); rebuild it with 'npm run build:native'.`);
  }
  return addon;
}
