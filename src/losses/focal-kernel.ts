/**
 * A fused sigmoid-focal kernel for the cpu and wasm backends: one pass over the logits computes the
 * elementwise loss α_t·m^γ·CE and, when a gradient is being recorded, its analytic derivative, in
 * float64 arithmetic. Other backends (torch, webgl, …) use the composite tfjs ops in focal.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

/** The kernel's registered name. */
export const SIGMOID_FOCAL_KERNEL = 'FocalYoloSigmoidFocal';

/** The backends the fused kernel is registered for. */
const FUSED_BACKENDS = ['cpu', 'wasm'] as const;

let enabled = process.env.FOCAL_YOLO_FUSED !== '0';
let registered = false;

/** Turns the fused kernel on or off (tests and benchmarks compare it with the composite ops). */
export function setFusedFocalKernel(on: boolean): void {
  enabled = on;
}

/** Float32 storage of a tensor on the cpu or wasm backend. */
interface Storage {
  view(t: TensorInfo): Float32Array;
  output(shape: number[]): TensorInfo;
}

interface CpuInternals {
  data: { get(dataId: object): { values?: ArrayLike<number> } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): TensorInfo;
}

interface WasmInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
}

function storage(backendName: string, backend: unknown): Storage {
  if (backendName === 'cpu') {
    const cpu = backend as CpuInternals;
    return {
      view: (t) => cpu.data.get(t.dataId)?.values as Float32Array,
      output: (shape) => cpu.makeTensorInfo(shape, 'float32', new Float32Array(tf.util.sizeFromShape(shape))),
    };
  }
  const wasm = backend as WasmInternals;
  return {
    // views must be taken after the last allocation: growing the heap detaches them
    view: (t) => new Float32Array(wasm.wasm.HEAPU8.buffer, wasm.dataIdMap.get(t.dataId)?.memoryOffset, tf.util.sizeFromShape(t.shape)),
    output: (shape) => wasm.makeOutput(shape, 'float32'),
  };
}

/**
 * loss_i = α_t·m^γ·CE and grad_i = α_t·m^γ·[(p − y) + γ·CE·(1 − 2y)·p·q/m] (see focal.ts), with
 * p = σ(x), q = σ(−x) from one exp, CE = y·softplus(−x) + (1 − y)·softplus(x) from one log1p.
 * `alpha` holds one α (length 1) or one per class (the last axis); empty means no balancing.
 * Writes the losses to `loss` and `scale`·grad to `grad` when given; returns Σ loss (float64).
 */
export function sigmoidFocalLoop(
  x: Float32Array, y: Float32Array, alpha: Float32Array | number[], gamma: number,
  loss: Float32Array | undefined, grad: Float32Array | undefined, scale = 1,
): number {
  const classes = alpha.length;
  const square = gamma === 2;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    const yi = y[i];
    const e = Math.exp(-Math.abs(xi)); // in (0, 1]: no overflow
    const inv = 1 / (1 + e);
    const p = xi >= 0 ? inv : e * inv;
    const q = xi >= 0 ? e * inv : inv;
    const log1pE = Math.log1p(e);
    const ce = yi * (Math.max(-xi, 0) + log1pE) + (1 - yi) * (Math.max(xi, 0) + log1pE);
    const m = yi * q + (1 - yi) * p;
    const modulator = gamma === 0 ? 1 : square ? m * m : gamma === 1 ? m : Math.pow(m, gamma);
    let at = 1;
    if (classes > 0) {
      const a = alpha[classes === 1 ? 0 : i % classes];
      at = 1 - a + (2 * a - 1) * yi;
    }
    const f = at * modulator;
    const li = f * ce;
    sum += li;
    if (loss !== undefined) loss[i] = li;
    if (grad !== undefined) {
      const r = m > 0 ? (p * q) / m : 0;
      grad[i] = scale * f * (p * (1 - yi) - yi * q + gamma * ce * (1 - 2 * yi) * r);
    }
  }
  return sum;
}

function kernelConfig(backendName: string): KernelConfig {
  return {
    kernelName: SIGMOID_FOCAL_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, y, alpha } = inputs as { x: TensorInfo; y: TensorInfo; alpha?: TensorInfo };
      const { gamma, withGrad, scale } = attrs as unknown as { gamma: number; withGrad: boolean; scale: number };
      const reduce = scale > 0; // 0: elementwise; > 0: one scalar, scale·Σ loss
      const store = storage(backendName, backend);
      const lossInfo = store.output(reduce ? [] : x.shape);
      const gradInfo = withGrad ? store.output(x.shape) : undefined;
      const alphaValues = alpha === undefined ? [] : Float32Array.from(store.view(alpha));
      const lossView = store.view(lossInfo);
      const sum = sigmoidFocalLoop(store.view(x), store.view(y), alphaValues, gamma, reduce ? undefined : lossView,
        gradInfo === undefined ? undefined : store.view(gradInfo), reduce ? scale : 1);
      if (reduce) lossView[0] = scale * sum;
      return gradInfo === undefined ? [lossInfo] : [lossInfo, gradInfo];
    },
  };
}

/** Whether the active backend runs the fused kernel. */
export function fusedFocalAvailable(): boolean {
  return enabled && (FUSED_BACKENDS as readonly string[]).includes(tf.getBackend());
}

/**
 * Runs the fused kernel when the active backend has it: returns [loss] or [loss, grad], or
 * undefined (use the composite ops). `alpha` is a length-1 or per-class [C] tensor, or undefined.
 * With `scale` > 0 the loss is the scalar scale·Σ loss and the gradient is scaled to match.
 */
export function fusedSigmoidFocal(
  x: tf.Tensor, y: tf.Tensor, alpha: tf.Tensor | undefined, gamma: number, withGrad: boolean, scale = 0,
): tf.Tensor[] | undefined {
  if (!fusedFocalAvailable()) return undefined;
  if (!registered) {
    for (const name of FUSED_BACKENDS) tf.registerKernel(kernelConfig(name));
    registered = true;
  }
  const inputs: tf.NamedTensorMap = alpha === undefined ? { x, y } : { x, y, alpha };
  return tf.engine().runKernel(SIGMOID_FOCAL_KERNEL, inputs, { gamma, withGrad, scale }) as unknown as tf.Tensor[];
}
