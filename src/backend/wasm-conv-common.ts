/** What the convolution-gradient kernels share: attribute checks and the NHWC geometry. */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';

/** Elements of one chunk's im2col-like matrix (4 MiB): measured fastest of 2^18 … 2^22 here; bounds extra memory. */
export const CHUNK_ELEMENTS = 1 << 20;

/** The convolution's geometry as tfjs computes it (pads included), for NHWC data. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

function isOne(value: unknown): boolean {
  if (value === undefined || value === null || value === 1) return true;
  return Array.isArray(value) && value.every((v) => v === 1);
}

/**
 * Checks the attributes our kernels support (NHWC, dilation 1) and computes the geometry.
 * Any other case is a one-line error naming the kernel and the attribute.
 */
export function convGeometry(
  kernelName: string,
  xShape: number[],
  filterShape: number[],
  attrs: NamedAttrMap,
): ConvGeometry {
  const dataFormat = attrs.dataFormat as string | undefined;
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm: dataFormat '${dataFormat}' is not supported; use 'NHWC' (channels last).`);
  }
  if (!isOne(attrs.dilations)) {
    throw new Error(`${kernelName} on wasm: dilations ${JSON.stringify(attrs.dilations)} are not supported; use dilation 1.`);
  }
  const strides = attrs.strides as [number, number] | number;
  const pad = attrs.pad as 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  const dimRoundingMode = attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}
