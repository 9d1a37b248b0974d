/**
 * The `torch` backend's fallback: a kernel with no native version runs the cpu backend's kernel on
 * copies of its inputs (correct, but it copies every input and output, so it warns once per kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { TorchBackend } from './torch-backend.js';

let cpu: MathBackendCPU | undefined;
const warned = new Set<string>();

/** Kernel names that have fallen back so far in this process (each warned about once). */
export function fallbackKernelsUsed(): string[] {
  return [...warned].sort();
}

/** Runs the cpu backend's `kernelName` for the torch backend. */
export function runOnCpu(kernelName: string, args: { inputs: tf.NamedTensorInfoMap; backend: TorchBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo | tf.TensorInfo[] {
  const config = tf.getKernel(kernelName, 'cpu');
  if (config === undefined) throw new Error(`kernel '${kernelName}' exists neither natively on torch nor on cpu.`);
  if (!warned.has(kernelName)) {
    warned.add(kernelName);
    console.warn(`[focal-yolo] torch backend: kernel '${kernelName}' has no native version; running the cpu kernel on copies (slow).`);
  }
  if (cpu === undefined) {
    cpu = new MathBackendCPU();
    // Our own warning above says what matters; skip the cpu backend's "install tfjs-node" banner.
    (cpu as unknown as { firstUse: boolean }).firstUse = false;
  }
  const torch = args.backend;
  const written: object[] = [];
  const cpuInputs: tf.NamedTensorInfoMap = {};
  for (const [name, t] of Object.entries(args.inputs)) {
    if (t === undefined) continue;
    const dataId = cpu.write(torch.readSync(t.dataId), t.shape, t.dtype);
    written.push(dataId);
    cpuInputs[name] = { dataId, shape: t.shape, dtype: t.dtype };
  }
  try {
    const result = config.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs: args.attrs ?? {} }) as tf.TensorInfo | tf.TensorInfo[];
    const outputs = Array.isArray(result) ? result : [result];
    const moved = outputs.map((t) => torch.makeTensorInfo(t.shape, t.dtype, cpu!.readSync(t.dataId)));
    for (const t of outputs) cpu.disposeData(t.dataId, true);
    return Array.isArray(result) ? moved : moved[0];
  } finally {
    for (const dataId of written) cpu.disposeData(dataId, true);
  }
}
