/**
 * safetensors (8-byte little-endian header length N, N bytes of JSON header, raw little-endian data)
 * and the reference's PyTorch state-dict names (§1.8), so weights move between focal-yolo and the
 * reference PyTorch network in both directions.
 */
import { fromTorchLayout, sizeOf, toTorchLayout, torchShape } from './params.js';
import type { Yolo } from './yolo.js';

/** Element types we read; we write F32 (parameters) and I64 (`num_batches_tracked`). */
export type SafetensorsDtype = 'F32' | 'F16' | 'F64' | 'I64' | 'I32';

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, F64: 8, I64: 8, I32: 4 };

/** One tensor of a safetensors file, values as float64-safe numbers in row-major order. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Float32Array for F32/F16/F64 (converted), BigInt64Array for I64, Int32Array for I32. */
  data: Float32Array | BigInt64Array | Int32Array;
}

/**
 * Encodes tensors (in the given order) and optional string metadata as a safetensors file.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]));
 * ```
 */
export function encodeSafetensors(tensors: Map<string, SafetensorsEntry>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'I64' && t.dtype !== 'I32') throw new Error(`encodeSafetensors: '${name}' has dtype ${t.dtype}; write F32, I32 or I64.`);
    const bytes = t.data.length * BYTES[t.dtype];
    if (t.data.length !== sizeOf(t.shape)) throw new Error(`encodeSafetensors: '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}].`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++) {
      if (t.dtype === 'F32') view.setFloat32(at, (t.data as Float32Array)[i], true);
      else if (t.dtype === 'I32') view.setInt32(at, (t.data as Int32Array)[i], true);
      else view.setBigInt64(at, (t.data as BigInt64Array)[i], true);
      at += BYTES[t.dtype];
    }
  }
  return out;
}

function readF16(view: DataView, at: number): number {
  const h = view.getUint16(at, true);
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * Decodes a safetensors file; checks the header and that every tensor lies inside the file.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = decodeSafetensors(readFileSync('model.safetensors'));
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8) throw new Error(`${source}: ${bytes.byteLength} bytes is too short for a safetensors file.`);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.byteLength) throw new Error(`${source}: header of ${n} bytes runs past the end of the ${bytes.byteLength}-byte file; the file is truncated or not safetensors.`);
  let header: Record<string, { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new Error(`${source}: the header is not JSON; is this a safetensors file?`);
  }
  const base = 8 + n;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [begin, end] } = raw as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in BYTES)) throw new Error(`${source}: tensor '${name}' has dtype ${dtype}; focal-yolo reads F32, F16, F64, I32 and I64.`);
    const count = sizeOf(shape);
    if (end - begin !== count * BYTES[dtype] || base + end > bytes.byteLength) {
      throw new Error(`${source}: tensor '${name}' [${shape.join(', ')}] ${dtype} has offsets ${begin}..${end}, inconsistent with its shape or past the end of the file (truncated?).`);
    }
    const at = base + begin;
    let data: SafetensorsEntry['data'];
    if (dtype === 'I64') data = BigInt64Array.from({ length: count }, (_, i) => view.getBigInt64(at + 8 * i, true));
    else if (dtype === 'I32') data = Int32Array.from({ length: count }, (_, i) => view.getInt32(at + 4 * i, true));
    else {
      const f = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        f[i] = dtype === 'F32' ? view.getFloat32(at + 4 * i, true) : dtype === 'F64' ? view.getFloat64(at + 8 * i, true) : readF16(view, at + 2 * i);
      }
      data = f;
    }
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** The BatchNorm layers of a model (state-dict prefixes ending in `.bn`). */
function bnLayers(model: Yolo): string[] {
  return [...new Set(model.params.filter((p) => p.role === 'gamma').map((p) => p.layer))];
}

/**
 * The model's weights as a safetensors file with the reference's state-dict names and PyTorch layouts
 * (conv weights OIHW, Linear [out, in]), including BatchNorm `num_batches_tracked` (I64), so that
 * `model.load_state_dict(safetensors.torch.load_file(path))` works on the reference network.
 *
 * @example
 * ```ts
 * writeFileSync('yolov4-tiny.safetensors', exportSafetensors(model));
 * ```
 */
export function exportSafetensors(model: Yolo, metadata: Record<string, string> = {}): Uint8Array {
  const tensors = new Map<string, SafetensorsEntry>();
  const tracked = new Set(bnLayers(model));
  for (const p of model.params) {
    tensors.set(p.key, { dtype: 'F32', shape: torchShape(p), data: toTorchLayout(p, model.readParam(p.key)) });
    if (p.role === 'movingVariance' && tracked.has(p.layer)) {
      tensors.set(`${p.layer}.num_batches_tracked`, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(model.batchesTracked)) });
    }
  }
  return encodeSafetensors(tensors, { format: 'pt', variant: model.variant, num_classes: String(model.numClasses), ...metadata });
}

/** What {@link importSafetensors} loaded and skipped. */
export interface SafetensorsImportInfo {
  loaded: string[];
  /** Model keys left at their current values (partial mode: missing or shape-mismatched in the file). */
  skipped: string[];
  /** File keys the model has no use for. */
  unused: string[];
}

/**
 * Loads reference-named weights (a state dict saved with safetensors) into `model`. Strict by default:
 * every parameter must be present with PyTorch's shape. `partial: true` copies every key whose shape
 * matches and leaves the rest, as the reference's partial loading (e.g. heads of another class count).
 *
 * @example
 * ```ts
 * importSafetensors(model, readFileSync('yolo4_voc_weights.safetensors'));
 * ```
 */
export function importSafetensors(model: Yolo, bytes: Uint8Array, opts: { partial?: boolean; source?: string } = {}): SafetensorsImportInfo {
  const source = opts.source ?? 'safetensors';
  const { tensors } = decodeSafetensors(bytes, source);
  const info: SafetensorsImportInfo = { loaded: [], skipped: [], unused: [] };
  const used = new Set<string>();
  const writes: [string, Float32Array][] = [];
  for (const p of model.params) {
    const t = tensors.get(p.key);
    const want = torchShape(p);
    const fits = t !== undefined && t.data instanceof Float32Array && t.shape.join(',') === want.join(',');
    if (!fits) {
      if (opts.partial) {
        info.skipped.push(p.key);
        continue;
      }
      const got = t === undefined ? 'is missing' : `has shape [${t.shape.join(', ')}] ${t.dtype}`;
      throw new Error(`${source}: '${p.key}' ${got}; ${model.variant} with ${model.numClasses} classes needs [${want.join(', ')}] float (use partial loading for another class count).`);
    }
    used.add(p.key);
    writes.push([p.key, fromTorchLayout(p, t.data as Float32Array)]);
  }
  for (const key of tensors.keys()) {
    if (!used.has(key) && !key.endsWith('.num_batches_tracked')) info.unused.push(key);
  }
  if (!opts.partial && info.unused.length > 0) {
    throw new Error(`${source}: ${info.unused.length} tensors are not part of ${model.variant} (phi ${model.phi}), e.g. '${info.unused[0]}'; check the variant and phi.`);
  }
  for (const [key, data] of writes) {
    model.writeParam(key, data);
    info.loaded.push(key);
  }
  const tracked = tensors.get(`${bnLayers(model)[0]}.num_batches_tracked`);
  if (tracked !== undefined && tracked.data instanceof BigInt64Array) model.batchesTracked = Number(tracked.data[0]);
  return info;
}
