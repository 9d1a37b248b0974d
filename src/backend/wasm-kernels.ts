/**
 * Kernels we add to the wasm backend: `Conv2DBackpropFilter` (missing there, so no conv net could train)
 * and a `Conv2DBackpropInput` about 10× faster than the backend's own. Both run on its forward
 * convolution / batched matrix product (XNNPACK), so they gain from its threads too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './wasm-conv-backprop-filter.js';
import { conv2DBackpropInputConfig } from './wasm-conv-backprop-input.js';

/** The kernel configs {@link registerWasmKernels} installs for the 'wasm' backend. */
export const WASM_KERNELS: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, conv2DBackpropInputConfig];

/**
 * Registers our convolution-gradient kernels for 'wasm', replacing the backend's slow
 * `Conv2DBackpropInput`. Idempotent; `initBackend()` calls it, so users rarely need to.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { registerWasmKernels } from 'focal-yolo';
 * registerWasmKernels();
 * await tf.setBackend('wasm');
 * const dw = tf.grad((w: tf.Tensor4D) => tf.sum(tf.conv2d(tf.ones([1, 8, 8, 3]), w, 2, 'same')))(tf.ones([3, 3, 3, 4]));
 * ```
 */
export function registerWasmKernels(): void {
  for (const config of WASM_KERNELS) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
}
