/**
 * Pre-processing for inference (reference-spec §5.2): RGB, then either a plain bicubic resize to the
 * network input (the reference's default, aspect not kept) or a letterbox (bicubic, grey 128,
 * centred with floor division), then /255 in the network.
 */
import * as tf from '@tensorflow/tfjs-core';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { letterbox as letterboxPlacement } from '../boxes/letterbox.js';

/** An image to detect in: a file path, encoded bytes (JPEG, PNG, WebP …), or an RGB tensor `[H, W, 3]` in 0..255. */
export type ImageInput = string | Buffer | Uint8Array | tf.Tensor3D;

/** An image resized for the network. */
export interface PreparedImage {
  /** `[inputH, inputW, 3]` RGB values 0..255 (float, so that a tensor input at the input size stays exact) */
  pixels: Float32Array;
  /** original `[width, height]` */
  imageSize: [number, number];
}

const GREY = 128;

function describe(image: ImageInput): string {
  return typeof image === 'string' ? `image ${image}` : 'the image bytes';
}

/** Decodes any {@link ImageInput} to 8-bit RGB through sharp (EXIF orientation applied, alpha flattened on grey). */
async function toSharp(image: ImageInput): Promise<{ pipeline: Sharp; width: number; height: number }> {
  if (image instanceof tf.Tensor) {
    const [height, width] = image.shape;
    const data = Uint8Array.from(await image.data(), (v) => Math.max(0, Math.min(255, Math.round(v))));
    return { pipeline: sharp(Buffer.from(data.buffer), { raw: { width, height, channels: 3 } }), width, height };
  }
  const pipeline = sharp(image, { failOn: 'error' }).autoOrient().flatten({ background: { r: GREY, g: GREY, b: GREY } });
  let meta: Metadata;
  try {
    meta = await pipeline.metadata();
  } catch (err) {
    throw new Error(`${describe(image)} cannot be read (${(err as Error).message.split('\n')[0]}): pass a JPEG, PNG or WebP`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new Error(`${describe(image)} has no size: re-save it as JPEG or PNG`);
  return { pipeline, width, height };
}

function checkTensor(image: tf.Tensor): void {
  if (image.rank !== 3 || image.shape[2] !== 3) {
    throw new Error(`detect: the image tensor has shape [${image.shape.join(', ')}]; pass RGB [height, width, 3] with values 0..255`);
  }
}

/**
 * Resizes one image for a network input of `[height, width]`.
 *
 * @example
 * const { pixels, imageSize } = await prepareImage('street.jpg', [416, 416], false);
 */
export async function prepareImage(image: ImageInput, inputShape: [number, number], letterbox: boolean): Promise<PreparedImage> {
  const [inH, inW] = inputShape;
  if (image instanceof tf.Tensor) {
    checkTensor(image);
    const [h, w] = image.shape;
    // A tensor already at the input size goes in unchanged (no 8-bit rounding).
    if (h === inH && w === inW) return { pixels: Float32Array.from(await image.data()), imageSize: [w, h] };
  } else if (typeof image !== 'string' && !(image instanceof Uint8Array)) {
    throw new Error('detect: pass an image path, encoded image bytes (Buffer) or an RGB tensor [height, width, 3]');
  }
  const { pipeline, width, height } = await toSharp(image);
  let resized: Sharp;
  if (letterbox) {
    const p = letterboxPlacement([width, height], [inW, inH]);
    resized = pipeline
      .resize(p.nw, p.nh, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
      .extend({ top: p.dy, bottom: inH - p.nh - p.dy, left: p.dx, right: inW - p.nw - p.dx, background: { r: GREY, g: GREY, b: GREY } });
  } else {
    resized = pipeline.resize(inW, inH, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false });
  }
  let data: Buffer;
  try {
    data = await resized.toColourspace('srgb').removeAlpha().raw().toBuffer();
  } catch (err) {
    throw new Error(`${describe(image)} cannot be decoded (${(err as Error).message.split('\n')[0]}): pass a valid JPEG, PNG or WebP`);
  }
  if (data.length !== inH * inW * 3) throw new Error(`${describe(image)} decoded to ${data.length} bytes, expected ${inH}×${inW}×3`);
  return { pixels: Float32Array.from(data), imageSize: [width, height] };
}
