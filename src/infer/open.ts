/** Opening a detector from what a user has on disk: a checkpoint directory or Darknet `.weights`. */
import { readFileSync, statSync } from 'node:fs';
import { YOLO_VARIANTS, type YoloVariant } from '../models/index.js';
import { Detector, type DetectorOptions } from './detector.js';

/** Options of {@link openDetector}. */
export interface OpenDetectorOptions extends DetectorOptions {
  /** for `.weights`: the network variant */
  variant?: YoloVariant;
  /** for `.weights`: the number of classes, when no class names are given */
  numClasses?: number;
  /** for `.weights`: the network input `[height, width]` (default [416, 416]) */
  inputShape?: [number, number];
}

/**
 * Opens a checkpoint directory (`saveCheckpoint`'s) or a Darknet `.weights` file (then `variant` and
 * `classNames` or `numClasses` are needed).
 *
 * @example
 * const detector = await openDetector('yolov4-tiny.weights', { variant: 'yolov4-tiny', numClasses: 80 });
 */
export async function openDetector(source: string, opts: OpenDetectorOptions = {}): Promise<Detector> {
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch {
    throw new Error(`model ${source} does not exist: pass a checkpoint directory or a Darknet .weights file`);
  }
  if (isDir) return Detector.load(source, opts);
  if (!source.endsWith('.weights')) {
    throw new Error(`model ${source} is neither a checkpoint directory nor a Darknet .weights file`);
  }
  if (opts.variant === undefined || !YOLO_VARIANTS.includes(opts.variant)) {
    throw new Error(`model ${source}: Darknet weights need --variant (${YOLO_VARIANTS.join(' or ')})`);
  }
  if (opts.classNames === undefined && opts.numClasses === undefined) {
    throw new Error(`model ${source}: Darknet weights need --names (a file with one class per line, or a comma list) or --classes N`);
  }
  return Detector.fromDarknet(new Uint8Array(readFileSync(source)), { ...opts, variant: opts.variant });
}
