/**
 * The `torch` KernelBackend: tensor data lives in libtorch (the addon's tensor table); tfjs holds
 * one integer id per dataId and frees it in `disposeData`, so memory follows tfjs's own bookkeeping.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DTYPE_CODES, DTYPE_OF_CODE, type NativeAttrs, type NativeDtype, type TorchAddon } from './torch-addon.js';

type DataId = object;

/** What the backend keeps per dataId: a native tensor id, or JS values for dtypes libtorch does not hold. */
interface TorchData {
  id: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
  /** Only for 'string' tensors, which stay in JS (no kernel of ours reads them). */
  jsValues?: tf.backend_util.BackendValues;
}

function isNativeDtype(dtype: tf.DataType): dtype is NativeDtype {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

/** Values as the typed array libtorch copies for `dtype` (tfjs sometimes hands over another array type). */
function typedFor(values: tf.backend_util.BackendValues, dtype: NativeDtype): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  if (dtype === 'int32') return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
}

/** The tfjs backend over libtorch. */
export class TorchBackend extends tf.KernelBackend {
  readonly data: tf.DataStorage<TorchData>;
  /** Native ids this backend owns, so that {@link dispose} can free what tfjs still held. */
  private readonly owned = new Set<number>();

  constructor(readonly addon: TorchAddon) {
    super();
    this.data = new tf.DataStorage<TorchData>(this, tf.engine());
  }

  private entry(values: tf.backend_util.BackendValues | null, shape: number[], dtype: tf.DataType, refCount: number): TorchData {
    if (dtype === 'complex64') {
      throw new Error(`the torch backend does not hold complex64 tensors (shape [${shape.join(', ')}]); use the cpu backend for complex math.`);
    }
    if (!isNativeDtype(dtype)) {
      return { id: 0, shape, dtype, refCount, jsValues: values ?? [] };
    }
    const size = tf.util.sizeFromShape(shape);
    const typed = values === null ? typedFor(tf.util.getTypedArrayFromDType(dtype, size), dtype) : typedFor(values, dtype);
    const id = this.addon.create(typed, shape, DTYPE_CODES[dtype]);
    this.owned.add(id);
    return { id, shape, dtype, refCount };
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): DataId {
    const dataId = {};
    this.data.set(dataId, this.entry(values, shape, dtype, 1));
    return dataId;
  }

  override move(dataId: DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.data.set(dataId, this.entry(values, shape, dtype, refCount));
  }

  /** Wraps a native result as a TensorInfo owned by this backend. */
  adopt(meta: number[]): tf.TensorInfo {
    const dataId = {};
    const [id, code, ...shape] = meta;
    const dtype = DTYPE_OF_CODE[code];
    this.owned.add(id);
    this.data.set(dataId, { id, shape, dtype, refCount: 1 });
    return { dataId, shape, dtype };
  }

  /** The native id of a TensorInfo; a clear error for tensors that live in JS. */
  nativeId(t: tf.TensorInfo, kernel: string): number {
    const d = this.data.get(t.dataId);
    if (d === undefined) throw new Error(`${kernel}: a ${t.dtype} tensor [${t.shape.join(', ')}] was already disposed.`);
    if (d.jsValues !== undefined) throw new Error(`${kernel}: dtype ${d.dtype} is not supported by the torch backend's native kernels.`);
    return d.id;
  }

  /** Runs a native kernel on TensorInfos and returns its outputs as TensorInfos. */
  run(kernel: string, inputs: tf.TensorInfo[], attrs?: NativeAttrs): tf.TensorInfo[] {
    const ids = inputs.map((t) => this.nativeId(t, kernel));
    return this.addon.op(kernel, ids, attrs).map((meta) => this.adopt(meta));
  }

  /** {@link run} for single-output kernels. */
  run1(kernel: string, inputs: tf.TensorInfo[], attrs?: NativeAttrs): tf.TensorInfo {
    return this.run(kernel, inputs, attrs)[0];
  }

  /** A TensorInfo from JS values (used by kernels whose result is cheapest to compute in JS). */
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo {
    return { dataId: this.write(values, shape, dtype), shape, dtype };
  }

  /** Frees a TensorInfo made inside a kernel that is not returned to tfjs. */
  disposeIntermediate(t: tf.TensorInfo): void {
    this.disposeData(t.dataId, true);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const d = this.data.get(dataId);
    if (d === undefined) throw new Error('torch backend: reading a tensor that was already disposed.');
    return d.jsValues ?? this.addon.read(d.id);
  }

  override read(dataId: DataId): Promise<tf.backend_util.BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const d = this.data.get(dataId);
    if (d === undefined) return true;
    if (!force) {
      d.refCount--;
      if (d.refCount > 0) return false;
    }
    if (d.id !== 0) {
      this.addon.free(d.id);
      this.owned.delete(d.id);
    }
    this.data.delete(dataId);
    return true;
  }

  override refCount(dataId: DataId): number {
    return this.data.get(dataId)?.refCount ?? 0;
  }

  override incRef(dataId: DataId): void {
    const d = this.data.get(dataId);
    if (d !== undefined) d.refCount++;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override memory(): { unreliable: boolean; numBytesInTorch: number; numTensorsInTorch: number; numBytesCachedInTorch: number } {
    const live = this.addon.live();
    // Freed large blocks the caching allocator keeps for reuse (released by trimTorchAllocator()).
    const cached = this.addon.allocator().cachedBytes ?? 0;
    return { unreliable: false, numBytesInTorch: live.bytes, numTensorsInTorch: live.tensors, numBytesCachedInTorch: cached };
  }

  override timerAvailable(): boolean {
    return true;
  }

  /**
   * libtorch's CPU kernels are done when they return, so wall time around `f` is the kernel's time.
   * The process's CPU time (all threads) over the kernel comes along as tf.profile's `extraInfo`
   * (`cpuMs=…`): on a shared machine it is the steadier measure.
   */
  override time(f: () => void): Promise<tf.BackendTimingInfo> {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    f();
    const kernelMs = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return Promise.resolve({ kernelMs, getExtraProfileInfo: () => `cpuMs=${cpuMs}` });
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  /** Frees every native tensor still held (tf.removeBackend / tf.engine().reset()). */
  override dispose(): void {
    for (const id of this.owned) this.addon.free(id);
    this.owned.clear();
  }
}
