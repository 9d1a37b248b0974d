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
 */
export function sigmoidFocalLoop(
  x: Float32Array, y: Float32Array, alpha: Float32Array | number[], gamma: number,
  loss: Float32Array, grad: Float32Array | undefined,
): void {
  const classes = alpha.length;
  const square = gamma === 2;
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
    loss[i] = f * ce;
    if (grad !== undefined) {
      const r = m > 0 ? (p * q) / m : 0;
      grad[i] = f * (p * (1 - yi) - yi * q + gamma * ce * (1 - 2 * yi) * r);
    }
  }
}

function kernelConfig(backendName: string): KernelConfig {
  return {
    kernelName: SIGMOID_FOCAL_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, y, alpha } = inputs as { x: TensorInfo; y: TensorInfo; alpha?: TensorInfo };
      const { gamma, withGrad } = attrs as unknown as { gamma: number; withGrad: boolean };
      const store = storage(backendName, backend);
      const lossInfo = store.output(x.shape);
      const gradInfo = withGrad ? store.output(x.shape) : undefined;
      const alphaValues = alpha === undefined ? [] : Float32Array.from(store.view(alpha));
      sigmoidFocalLoop(store.view(x), store.view(y), alphaValues, gamma, store.view(lossInfo),
        gradInfo === undefined ? undefined : store.view(gradInfo));
      return gradInfo === undefined ? [lossInfo] : [lossInfo, gradInfo];
    },
  };
}

/**
 * Runs the fused kernel when the active backend has it: returns [loss] or [loss, grad], or
 * undefined (use the composite ops). `alpha` is a length-1 or per-class [C] tensor, or undefined.
 */
export function fusedSigmoidFocal(
  x: tf.Tensor, y: tf.Tensor, alpha: tf.Tensor | undefined, gamma: number, withGrad: boolean,
): tf.Tensor[] | undefined {
  const backendName = tf.getBackend();
  if (!enabled || !(FUSED_BACKENDS as readonly string[]).includes(backendName)) return undefined;
  if (!registered) {
    for (const name of FUSED_BACKENDS) tf.registerKernel(kernelConfig(name));
    registered = true;
  }
  const inputs: tf.NamedTensorMap = alpha === undefined ? { x, y } : { x, y, alpha };
  return tf.engine().runKernel(SIGMOID_FOCAL_KERNEL, inputs, { gamma, withGrad }) as unknown as tf.Tensor[];
}
