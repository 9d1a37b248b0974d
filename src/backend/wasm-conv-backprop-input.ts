/**
 * `Conv2DBackpropInput` for the wasm backend, at the forward convolution's speed.
 *
 * dx[y] = Σ dy[oy]·W[ky] over y = oy·s + ky − padTop. Splitting y by its phase r = y mod s, only the taps
 * ky ≡ r + padTop (mod s) contribute, so each phase is a stride-1 convolution of dy with a small reversed
 * sub-filter: s² forward convolutions (XNNPACK) whose taps add up to the full filter, and no multiplication
 * by the zeros that the textbook "dilate dy, convolve" identity inserts.
 *
 * With fewer than 8 input channels (the image layer) the phases waste XNNPACK's tiles; there dx is built
 * one row at a time by the SIMD module of wasm-filter-grad.wat: by its fused GEMM + col2im kernel when a
 * window row has at most 12 values (KW·Ci ≤ 12), else by an XNNPACK GEMM into im2col-shaped dcols and
 * the module's col2im.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { CHUNK_ELEMENTS, convGeometry, type ConvGeometry } from './wasm-conv-common.js';
import { col2imChunk, finishCol2im, fusedInputGradient, fusedThreads, startCol2im, windowRows } from './wasm-filter-grad.js';
import { asWasmBackend, heapFloats, release, releaseRowView, rowView, runWasmKernel, type WasmBackendInternals } from './wasm-internals.js';

const KERNEL = 'Conv2DBackpropInput';

/** One phase r of one spatial axis: which outputs it fills and which taps feed them. */
interface AxisPhase {
  /** Output positions r, r+s, …: how many. */
  count: number;
  /** First tap ky0 ≡ r + padBefore (mod s) and the number of taps ky0, ky0+s, …. */
  firstTap: number;
  taps: number;
  /** Zero padding of dy before/after for the stride-1 convolution, and rows of dy cut when negative. */
  padBefore: number;
  padAfter: number;
  cropBefore: number;
  cropAfter: number;
}

/** The stride-1 convolution that computes outputs y ≡ r (mod stride) of one axis. */
export function axisPhase(r: number, size: number, dySize: number, kernel: number, stride: number, padBefore: number): AxisPhase {
  const count = r < size ? Math.ceil((size - r) / stride) : 0;
  const firstTap = (r + padBefore) % stride;
  const taps = firstTap < kernel ? Math.ceil((kernel - firstTap) / stride) : 0;
  // Output q reads dy[q + offset − j] for tap j; reversed taps make it dy[q − before + j'].
  const offset = Math.floor((r + padBefore) / stride);
  const before = taps - 1 - offset;
  const after = count + taps - 1 - dySize - before;
  return {
    count,
    firstTap,
    taps,
    padBefore: Math.max(0, before),
    padAfter: Math.max(0, after),
    cropBefore: Math.max(0, -before),
    cropAfter: Math.max(0, -after),
  };
}

/** Sub-filter [Jy, Jx, Co, Ci] of phase (py, px) from the channel-swapped filter [KH, KW, Co, Ci], taps reversed. */
function subFilter(backend: WasmBackendInternals, swapped: TensorInfo, py: AxisPhase, px: AxisPhase, sy: number, sx: number): TensorInfo {
  const [, filterWidth, co, ci] = swapped.shape;
  const block = co * ci;
  const out = backend.makeOutput([py.taps, px.taps, co, ci], 'float32');
  const { heap, start: src } = heapFloats(backend, swapped);
  const dst = heapFloats(backend, out).start;
  for (let j = 0; j < py.taps; j++) {
    const ky = py.firstTap + sy * (py.taps - 1 - j);
    for (let i = 0; i < px.taps; i++) {
      const kx = px.firstTap + sx * (px.taps - 1 - i);
      const from = src + (ky * filterWidth + kx) * block;
      heap.copyWithin(dst + (j * px.taps + i) * block, from, from + block);
    }
  }
  return out;
}

/** dy without its first/last rows and columns where a phase's padding would be negative. */
function cropDy(backend: WasmBackendInternals, dy: TensorInfo, py: AxisPhase, px: AxisPhase): TensorInfo {
  const [n, h, w, c] = dy.shape;
  const rows = h - py.cropBefore - py.cropAfter;
  const cols = w - px.cropBefore - px.cropAfter;
  const cropped = backend.makeOutput([n, rows, cols, c], 'float32');
  const { heap, start: src } = heapFloats(backend, dy);
  const dst = heapFloats(backend, cropped).start;
  let at = dst;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < rows; y++) {
      const from = src + ((b * h + y + py.cropBefore) * w + px.cropBefore) * c;
      heap.copyWithin(at, from, from + cols * c);
      at += cols * c;
    }
  }
  return cropped;
}

/** Writes phase output [N, Q, P, C] into dx [N, H, W, C] at rows r_y + s_y·q, columns r_x + s_x·p. */
function scatterPhase(
  backend: WasmBackendInternals,
  phase: TensorInfo | undefined,
  dx: TensorInfo,
  ry: number,
  rx: number,
  sy: number,
  sx: number,
): void {
  const [n, h, w, c] = dx.shape;
  const { heap, start: dst } = heapFloats(backend, dx);
  const q = Math.ceil((h - ry) / sy);
  const p = Math.ceil((w - rx) / sx);
  let src = phase === undefined ? -1 : heapFloats(backend, phase).start;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < q; i++) {
      let at = dst + ((b * h + ry + sy * i) * w + rx) * c;
      if (phase === undefined) {
        // A phase no tap reaches (a kernel smaller than its stride): its gradient is zero.
        for (let j = 0; j < p; j++, at += sx * c) heap.fill(0, at, at + c);
      } else if (sx === 1) {
        heap.copyWithin(at, src, src + p * c);
        src += p * c;
      } else if (c >= 16) {
        for (let j = 0; j < p; j++, at += sx * c, src += c) heap.copyWithin(at, src, src + c);
      } else {
        for (let j = 0; j < p; j++, at += sx * c) for (let k = 0; k < c; k++) heap[at + k] = heap[src++];
      }
    }
  }
}

/** One phase's stride-1 convolution, [N, Q, P, Ci]; undefined when nothing reaches it (all zero). */
function phaseConv(
  backend: WasmBackendInternals,
  dy: TensorInfo,
  swapped: TensorInfo,
  py: AxisPhase,
  px: AxisPhase,
  sy: number,
  sx: number,
): TensorInfo | undefined {
  if (py.taps === 0 || px.taps === 0) return undefined;
  // All of dy cut away: the phase only sees padding (tiny inputs with large pads).
  if (dy.shape[1] <= py.cropBefore + py.cropAfter || dy.shape[2] <= px.cropBefore + px.cropAfter) return undefined;
  const filter = subFilter(backend, swapped, py, px, sy, sx);
  const needsCrop = py.cropBefore + py.cropAfter + px.cropBefore + px.cropAfter > 0;
  const x = needsCrop ? cropDy(backend, dy, py, px) : dy;
  const out = runWasmKernel(backend, 'Conv2D', { x, filter }, {
    strides: [1, 1],
    pad: [[0, 0], [py.padBefore, py.padAfter], [px.padBefore, px.padAfter], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [1, 1],
  });
  release(backend, filter);
  if (needsCrop) release(backend, x);
  return out;
}

/** Below this many input channels the phase convolutions (Ci outputs each) waste XNNPACK's tiles. */
export const FEW_CHANNELS = 8;

/**
 * dx for few input channels: dcols [M, K·K·Ci] = dy [M, Co] × Wᵀ [Co, K·K·Ci] as one GEMM whose packed
 * operand is the small filter, then col2im adds each window back into dx, chunk by chunk (whole output
 * rows per chunk). col2im runs in the WebAssembly SIMD module (wasm-filter-grad.wat, `col2imRow`, one
 * dx row per call); each dx row is zeroed right before its first window lands (no separate pass over
 * dx). With the threaded build, a helper thread runs chunk k's col2im during chunk k + 1's GEMM and
 * this thread then takes the rows the helper has not reached.
 */
function gemmCol2im(backend: WasmBackendInternals, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = g;
  const patch = kh * kw * c;
  const outRows = g.batch * ho;
  const filterT = runWasmKernel(backend, 'Transpose', { x: { ...filter, shape: [patch, g.outChannels] } }, { perm: [1, 0] });
  const dx = backend.makeOutput([g.batch, h, w, c], 'float32');
  // col2im zeroes every other row when its first window arrives.
  zeroUnreachedRows(backend, dx, g);
  const chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / (wo * patch)));
  // With a helper thread, chunk k's col2im runs there while this thread (with XNNPACK's pool) runs the
  // GEMM of chunk k + 1, then joins it. (Measured about as fast as splitting each chunk's col2im right
  // after its GEMM: XNNPACK's pool thread spins ~1 ms after every GEMM and holds the second core either
  // way, which is why the image layer takes the fused kernel instead.)
  let pending: TensorInfo | undefined;
  const finishPending = () => {
    if (pending === undefined) return;
    const cols = pending;
    pending = undefined;
    try {
      finishCol2im(backend);
    } finally {
      release(backend, cols);
    }
  };
  try {
    for (let g0 = 0; g0 < outRows; g0 += chunkRows) {
      const g1 = Math.min(outRows, g0 + chunkRows);
      const dyRows = rowView(backend, dy, g0 * wo, (g1 - g0) * wo, g.outChannels);
      const cols = runWasmKernel(backend, 'BatchMatMul', { a: dyRows, b: filterT }, { transposeA: false, transposeB: false });
      releaseRowView(backend, dyRows);
      finishPending();
      // Addresses after the GEMM's allocation (heap views detach when the memory grows).
      const colsAt = heapFloats(backend, cols).start * 4;
      const dxAt = heapFloats(backend, dx).start * 4;
      if (startCol2im(backend, g, colsAt, dxAt, g0, g1)) {
        pending = cols;
      } else {
        col2imChunk(backend, g, colsAt, dxAt, g0, g1);
        release(backend, cols);
      }
    }
  } finally {
    // Also on an error: the helper must be done with dcols before its memory is freed.
    finishPending();
  }
  release(backend, filterT);
  return dx;
}

/** The fused kernel's register block holds 12 floats of a window row: KW·Ci ≤ 12. */
const FUSED_MAX_RUN = 12;

/** Below this many multiply-adds the fused kernel stays on the calling thread (waking a helper costs tens of µs). */
const FUSED_PARALLEL_MIN_MACS = 1 << 20;

/** Rows of dx that no window reaches (below the last window with 'valid' padding, gaps when s > K, large pads). */
function zeroUnreachedRows(backend: WasmBackendInternals, dx: TensorInfo, g: ConvGeometry): void {
  const { inHeight: h, inWidth: w, inChannels: c } = g;
  const { heap, start } = heapFloats(backend, dx);
  for (let iy = 0; iy < h; iy++) {
    const [first, last] = windowRows(iy, g.padTop, g.filterHeight, g.strideHeight, g.outHeight);
    if (first <= last) continue;
    for (let b = 0; b < g.batch; b++) heap.fill(0, start + (b * h + iy) * w * c, start + (b * h + iy + 1) * w * c);
  }
}

/**
 * dx for few input channels with KW·Ci ≤ 12 (the image layer) in one pass of the SIMD module's fused
 * kernel: each window row is computed from dy and the filter where it is added into dx (no dcols
 * matrix, no XNNPACK call), dx rows shared between this thread and the helper threads.
 */
function fusedGemmCol2im(backend: WasmBackendInternals, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { inChannels: c, outChannels: co, filterHeight: kh, filterWidth: kw } = g;
  const threads = fusedThreads(backend);
  // The filter as [KH, Co, 12] (window row ky of output channel o, zero-padded), then 64 bytes of scratch per thread.
  const wt = backend.makeOutput([kh * co * FUSED_MAX_RUN + threads * 16], 'float32');
  const dx = backend.makeOutput([g.batch, g.inHeight, g.inWidth, c], 'float32');
  // Views after the last allocation.
  const { heap, start: wtStart } = heapFloats(backend, wt);
  const fStart = heapFloats(backend, filter).start;
  heap.fill(0, wtStart, wtStart + kh * co * FUSED_MAX_RUN);
  for (let ky = 0; ky < kh; ky++) {
    for (let t = 0; t < kw * c; t++) {
      const from = fStart + (ky * kw * c + t) * co;
      for (let o = 0; o < co; o++) heap[wtStart + (ky * co + o) * FUSED_MAX_RUN + t] = heap[from + o];
    }
  }
  zeroUnreachedRows(backend, dx, g);
  const macs = g.batch * g.outHeight * g.outWidth * kh * kw * c * co;
  fusedInputGradient(backend, g, heapFloats(backend, dy).start * 4, wtStart * 4, heapFloats(backend, dx).start * 4, (wtStart + kh * co * FUSED_MAX_RUN) * 4, macs >= FUSED_PARALLEL_MIN_MACS);
  release(backend, wt);
  return dx;
}

function conv2DBackpropInput({ inputs, attrs, backend }: { inputs: { dy: TensorInfo; filter: TensorInfo }; attrs: NamedAttrMap; backend: unknown }): TensorInfo {
  const wasm = asWasmBackend(backend, KERNEL);
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as number[];
  const g = convGeometry(KERNEL, inputShape, filter.shape, attrs);
  const [sy, sx] = [g.strideHeight, g.strideWidth];
  if (g.inChannels < FEW_CHANNELS) {
    if (g.filterWidth * g.inChannels <= FUSED_MAX_RUN && g.batch > 0 && g.outChannels > 0 && g.outHeight > 0 && g.outWidth > 0) return fusedGemmCol2im(wasm, dy, filter, g);
    return gemmCol2im(wasm, dy, filter, g);
  }
  // [KH, KW, Ci, Co] → [KH, KW, Co, Ci]: dy's channels are the phase convolutions' inputs.
  const swapped = runWasmKernel(wasm, 'Transpose', { x: filter }, { perm: [0, 1, 3, 2] });
  try {
    const phasesY = Array.from({ length: sy }, (_, r) => axisPhase(r, g.inHeight, g.outHeight, g.filterHeight, sy, g.padTop));
    const phasesX = Array.from({ length: sx }, (_, r) => axisPhase(r, g.inWidth, g.outWidth, g.filterWidth, sx, g.padLeft));
    if (sy === 1 && sx === 1) {
      const out = phaseConv(wasm, dy, swapped, phasesY[0], phasesX[0], 1, 1);
      if (out !== undefined) return out;
    }
    const dx = wasm.makeOutput([g.batch, g.inHeight, g.inWidth, g.inChannels], 'float32');
    for (let ry = 0; ry < sy; ry++) {
      for (let rx = 0; rx < sx; rx++) {
        if (phasesY[ry].count === 0 || phasesX[rx].count === 0) continue;
        const phase = phaseConv(wasm, dy, swapped, phasesY[ry], phasesX[rx], sy, sx);
        scatterPhase(wasm, phase, dx, ry, rx, sy, sx);
        if (phase !== undefined) release(wasm, phase);
      }
    }
    return dx;
  } finally {
    release(wasm, swapped);
  }
}

/** The kernel registration for `tf.registerKernel`. */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
