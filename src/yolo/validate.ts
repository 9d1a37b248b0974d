/** Input checks of the YOLO loss: options once in the constructor, targets on every call. */
import { IOU_TYPES } from '../losses/index.js';
import type { YoloLossOptions } from './loss.js';

/** How many levels the reference's balance list covers. */
const MAX_LEVELS = 3;

/** Checks {@link YoloLossOptions} and fills in the defaults. */
export function validateOptions(opts: YoloLossOptions): Readonly<Required<YoloLossOptions>> {
  const op = 'YoloLoss';
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options missing; pass { inputShape, numClasses, anchors, anchorsMask }.`);
  const { inputShape, numClasses, anchors, anchorsMask } = opts;
  if (!Array.isArray(inputShape) || inputShape.length !== 2 || inputShape.some((s) => !Number.isInteger(s) || s <= 0 || s % 32 !== 0)) {
    throw new Error(`${op}: inputShape = ${JSON.stringify(inputShape)} is invalid; use [height, width], positive multiples of 32 (e.g. [416, 416]).`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${op}: numClasses = ${String(numClasses)} is invalid; use a positive integer (e.g. 20 for VOC).`);
  }
  if (!Array.isArray(anchors) || anchors.length === 0 || anchors.some((a) => !Array.isArray(a) || a.length !== 2 || a.some((v) => !Number.isFinite(v) || v <= 0))) {
    throw new Error(`${op}: anchors = ${JSON.stringify(anchors)} is invalid; use pairs [w, h] > 0 in input pixels (e.g. YOLOV4_ANCHORS).`);
  }
  if (!Array.isArray(anchorsMask) || anchorsMask.length === 0 || anchorsMask.length > MAX_LEVELS
    || anchorsMask.some((m) => !Array.isArray(m) || m.length === 0 || m.some((a) => !Number.isInteger(a) || a < 0 || a >= anchors.length))) {
    throw new Error(`${op}: anchorsMask = ${JSON.stringify(anchorsMask)} is invalid; use 1…${MAX_LEVELS} lists of anchor indices 0…${anchors.length - 1} (e.g. YOLOV4_ANCHORS_MASK).`);
  }
  const focalAlpha = opts.focalAlpha ?? 0.25;
  if (typeof focalAlpha !== 'number' || !(focalAlpha >= 0 && focalAlpha <= 1)) {
    throw new Error(`${op}: focalAlpha = ${String(opts.focalAlpha)} is invalid; use a number in [0, 1] (e.g. 0.25).`);
  }
  const focalGamma = opts.focalGamma ?? 2;
  if (typeof focalGamma !== 'number' || !Number.isFinite(focalGamma) || focalGamma < 0) {
    throw new Error(`${op}: focalGamma = ${String(opts.focalGamma)} is invalid; use a finite number ≥ 0 (e.g. 2).`);
  }
  const iouType = opts.iouType ?? 'ciou';
  if (!IOU_TYPES.includes(iouType)) {
    throw new Error(`${op}: iouType = ${JSON.stringify(opts.iouType)} is invalid; use one of ${IOU_TYPES.join(', ')}.`);
  }
  const labelSmoothing = opts.labelSmoothing ?? 0;
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new Error(`${op}: labelSmoothing = ${String(opts.labelSmoothing)} is invalid; use a number in [0, 1) (e.g. 0 or 0.005).`);
  }
  return {
    inputShape: [inputShape[0], inputShape[1]], numClasses, anchors, anchorsMask,
    focalLoss: opts.focalLoss ?? false, focalAlpha, focalGamma, iouType, labelSmoothing,
  };
}

/**
 * Checks ground truths: one Float32Array per image of rows [cx, cy, w, h, class] with cx, cy in
 * [0, 1], w, h in (0, 1] and an integer class in [0, numClasses).
 *
 * @example
 * validateTargets([new Float32Array([0.5, 0.5, 0.2, 0.2, 3])], 1, 20); // ok
 */
export function validateTargets(targets: readonly Float32Array[], batch: number, numClasses: number): void {
  const op = 'YoloLoss';
  if (!Array.isArray(targets) || targets.length !== batch) {
    throw new Error(`${op}: targets has ${Array.isArray(targets) ? targets.length : typeof targets} entries for a batch of ${batch}; pass one Float32Array of rows [cx, cy, w, h, class] per image.`);
  }
  targets.forEach((rows, b) => {
    if (!(rows instanceof Float32Array) || rows.length % 5 !== 0) {
      throw new Error(`${op}: targets[${b}] must be a Float32Array of rows [cx, cy, w, h, class] (length a multiple of 5), got ${rows instanceof Float32Array ? `length ${rows.length}` : typeof rows}.`);
    }
    for (let r = 0; r < rows.length; r += 5) {
      const [cx, cy, w, h, cls] = rows.subarray(r, r + 5);
      const where = `${op}: targets[${b}] row ${r / 5} = [${Array.from(rows.subarray(r, r + 5), (v) => +v.toPrecision(7)).join(', ')}]`;
      if (!Number.isInteger(cls) || cls < 0 || cls >= numClasses) {
        throw new Error(`${where} has class ${cls}, outside 0…${numClasses - 1}; check the class list or numClasses.`);
      }
      if (!(cx >= 0 && cx <= 1 && cy >= 0 && cy <= 1)) {
        throw new Error(`${where} has its centre outside 0..1; boxes must be normalised by the input width and height.`);
      }
      if (!(w > 0 && w <= 1 && h > 0 && h <= 1)) {
        throw new Error(`${where} has w or h outside (0, 1]; drop empty boxes and normalise by the input size.`);
      }
    }
  });
}
