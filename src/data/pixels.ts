/**
 * The data pipeline's pixel kernels, compiled from pixels.wat (WebAssembly SIMD): PIL's bicubic
 * resize (resample.ts), the HSV jitter (hsv.ts) and the byte → float32 conversion of finished
 * canvases. One instance per thread (each data worker has its own), created on first use; pixels are
 * copied in and out of its memory, which grows to the largest image seen.
 */
import { PIXELS_WASM } from './pixels-bytes.js';

/** The module's exports (addresses are byte offsets into `memory`). */
interface Exports {
  memory: WebAssembly.Memory;
  hsv(p: number, n: number): void;
  toFloat(src: number, dst: number, n: number): void;
  mixFloat(a: number, b: number, dst: number, n: number): void;
  resizeH(src: number, srcStride: number, rows: number, dst: number, width: number, first: number, weights: number, pairs: number): void;
  resizeV(mid: number, stride: number, dst: number, height: number, n: number, first: number, weights: number, pairs: number): void;
}

/** Byte offsets of the tables (see pixels.wat) and of the data area. */
export const SDIV_AT = 0;
export const HDIV_AT = 1024;
export const LUT_H_AT = 2048;
export const LUT_S_AT = 2304;
export const LUT_V_AT = 2560;
export const FACTOR_AT = 4096;
const DATA_AT = 1 << 20;

let kernels: Exports | undefined;

/** This thread's instance of the pixel kernels. */
export function pixelKernels(): Exports {
  if (!kernels) {
    const module = new WebAssembly.Module(Buffer.from(PIXELS_WASM, 'base64'));
    kernels = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  }
  return kernels;
}

/** Grows the memory so that `bytes` fit in the data area; returns the data area's offset. */
export function dataArea(bytes: number): number {
  const memory = pixelKernels().memory;
  const need = DATA_AT + bytes;
  if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  return DATA_AT;
}

const align = (n: number) => (n + 15) & ~15;

/**
 * Writes 8-bit pixels as float32 0..1 (`x / 255`) into `out` at `offset`; with `b`, the mixup average
 * `(a + b) / 2 / 255` (§3.7). Both are correctly rounded, like `Math.fround(x / 255)`.
 *
 * @example
 * const out = new Float32Array(3);
 * bytesToUnitFloat(new Uint8Array([0, 51, 255]), undefined, out, 0); // out = [0, 0.2, 1]
 */
export function bytesToUnitFloat(a: Uint8Array, b: Uint8Array | undefined, out: Float32Array, offset: number): void {
  const n = a.length;
  if (b && b.length !== n) throw new Error(`bytesToUnitFloat: the mixup images differ in size (${n} and ${b.length} bytes)`);
  const k = pixelKernels();
  const base = dataArea(2 * align(n) + 4 * n);
  const bAt = base + align(n);
  const dst = base + 2 * align(n);
  const bytes = new Uint8Array(k.memory.buffer);
  bytes.set(a, base);
  if (b) {
    bytes.set(b, bAt);
    k.mixFloat(base, bAt, dst, n);
  } else {
    k.toFloat(base, dst, n);
  }
  out.set(new Float32Array(k.memory.buffer, dst, n), offset);
}
