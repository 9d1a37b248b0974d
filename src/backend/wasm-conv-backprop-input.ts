/**
 * `Conv2DBackpropInput` for the wasm backend, at the forward convolution's speed.
 *
 * dx[y] = Σ dy[oy]·W[ky] over y = oy·s + ky − padTop. Splitting y by its phase r = y mod s, only the taps
 * ky ≡ r + padTop (mod s) contribute, so each phase is a stride-1 convolution of dy with a small reversed
 * sub-filter: s² forward convolutions (XNNPACK) whose taps add up to the full filter, and no multiplication
 * by the zeros that the textbook "dilate dy, convolve" identity inserts.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { CHUNK_ELEMENTS, convGeometry, type ConvGeometry } from './wasm-conv-common.js';
import { wasmAddRuns } from './wasm-filter-grad.js';
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
 * Adds the windows of dcols (output positions m0 … m0+rows−1, [rows, K·K·Ci]) into dx, one segment of
 * an output row at a time. Per window row ky, the outputs whose window lies inside dx add one contiguous
 * run of KW·Ci values (contiguous in dcols and in NHWC dx) without bounds checks or divisions; only the
 * edge outputs go tap by tap. The contiguous runs are added by the WebAssembly SIMD module's `addRuns`
 * (wasm-filter-grad.wat); at 416²×3→32 s2 col2im took 39 ms (CPU, per-tap JS), then 16 (runs in JS).
 */
function col2imAdd(backend: WasmBackendInternals, cols: TensorInfo, dx: TensorInfo, g: ConvGeometry, m0: number, rows: number): void {
  const { inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, strideWidth: sx } = g;
  const patch = kh * kw * c;
  const step = sx * c;
  const { heap, start: dst } = heapFloats(backend, dx);
  const src = heapFloats(backend, cols).start;
  const addRuns = wasmAddRuns(backend);
  for (let m = m0; m < m0 + rows; ) {
    // A segment of one output row: fixed (n, oy), ox from ox0 to ox1 − 1.
    const ox0 = m % wo;
    const oy = Math.floor(m / wo) % ho;
    const n = Math.floor(m / (wo * ho));
    const ox1 = Math.min(wo, ox0 + (m0 + rows - m));
    const rowSrc = src + (m - m0 - ox0) * patch;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * g.strideHeight - g.padTop + ky;
      if (iy < 0 || iy >= h) continue;
      const rowDst = dst + (n * h + iy) * w * c;
      // Outputs whose whole window row lies inside: the window's kw·Ci values are contiguous in dcols and in dx.
      const inFirst = Math.min(ox1, Math.max(ox0, Math.ceil(g.padLeft / sx)));
      const inEnd = Math.max(inFirst, Math.min(ox1, Math.floor((w - kw + g.padLeft) / sx) + 1));
      const run = kw * c;
      // byte addresses (heap indices are floats); >>> 0 keeps them unsigned past 2 GiB
      if (inEnd > inFirst) {
        addRuns(((rowSrc + inFirst * patch + ky * run) * 4) >>> 0, ((rowDst + (inFirst * sx - g.padLeft) * c) * 4) >>> 0, inEnd - inFirst, run, patch * 4, step * 4);
      }
      // The outputs at the edges, tap by tap with bounds checks.
      for (const [a, b] of [[ox0, inFirst], [inEnd, ox1]]) {
        for (let ox = a; ox < b; ox++) {
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sx - g.padLeft + kx;
            if (ix < 0 || ix >= w) continue;
            const from = rowSrc + ox * patch + (ky * kw + kx) * c;
            const at = rowDst + ix * c;
            for (let k = 0; k < c; k++) heap[at + k] += heap[from + k];
          }
        }
      }
    }
    m += ox1 - ox0;
  }
}

/**
 * dx for few input channels: dcols [M, K·K·Ci] = dy [M, Co] × Wᵀ [Co, K·K·Ci] as one GEMM whose packed
 * operand is the small filter, then col2im adds each window back into dx, chunk by chunk.
 */
function gemmCol2im(backend: WasmBackendInternals, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = g;
  const patch = kh * kw * c;
  const total = g.batch * ho * wo;
  const filterT = runWasmKernel(backend, 'Transpose', { x: { ...filter, shape: [patch, g.outChannels] } }, { perm: [1, 0] });
  const dx = backend.makeOutput([g.batch, h, w, c], 'float32');
  {
    const { heap, start } = heapFloats(backend, dx);
    heap.fill(0, start, start + g.batch * h * w * c);
  }
  const chunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / patch));
  for (let m0 = 0; m0 < total; m0 += chunk) {
    const rows = Math.min(chunk, total - m0);
    const dyRows = rowView(backend, dy, m0, rows, g.outChannels);
    const cols = runWasmKernel(backend, 'BatchMatMul', { a: dyRows, b: filterT }, { transposeA: false, transposeB: false });
    releaseRowView(backend, dyRows);
    col2imAdd(backend, cols, dx, g, m0, rows);
    release(backend, cols);
  }
  release(backend, filterT);
  return dx;
}

function conv2DBackpropInput({ inputs, attrs, backend }: { inputs: { dy: TensorInfo; filter: TensorInfo }; attrs: NamedAttrMap; backend: unknown }): TensorInfo {
  const wasm = asWasmBackend(backend, KERNEL);
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as number[];
  const g = convGeometry(KERNEL, inputShape, filter.shape, attrs);
  const [sy, sx] = [g.strideHeight, g.strideWidth];
  if (g.inChannels < FEW_CHANNELS) return gemmCol2im(wasm, dy, filter, g);
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
