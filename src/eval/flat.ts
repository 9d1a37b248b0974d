/**
 * Validation and flattening of the per-image inputs of the evaluators into typed arrays, so that
 * the VOC and COCO code loops over numbers only.
 */
import type { DetectionImage, GroundTruthImage } from './types.js';

/** A set of boxes from many images, as parallel typed arrays. */
export interface FlatBoxes {
  /** corners, 4 per box */
  boxes: Float64Array;
  classes: Int32Array;
  /** index of the image each box belongs to */
  images: Int32Array;
  /** scores (detections) or 0 (ground truth) */
  scores: Float64Array;
  /** difficult flags (ground truth) or 0 (detections) */
  difficult: Uint8Array;
}

function checkBox(box: unknown, where: string): asserts box is number[] {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`evaluateDetections: ${where} = ${JSON.stringify(box)} is not a box; use [x1, y1, x2, y2] with finite numbers`);
  }
}

function checkClass(c: unknown, numClasses: number, where: string): asserts c is number {
  if (!Number.isInteger(c) || (c as number) < 0 || (c as number) >= numClasses) {
    throw new Error(`evaluateDetections: ${where} = ${String(c)} is not a class index; use an integer in 0…${numClasses - 1}`);
  }
}

/** Validates and flattens the ground truth. */
export function flattenGroundTruth(images: GroundTruthImage[], numClasses: number): FlatBoxes {
  let n = 0;
  images.forEach((img, i) => {
    if (img === null || typeof img !== 'object' || !Array.isArray(img.boxes) || !Array.isArray(img.classes)) {
      throw new Error(`evaluateDetections: groundTruth[${i}] must be { boxes: number[][], classes: number[] }`);
    }
    if (img.classes.length !== img.boxes.length) {
      throw new Error(`evaluateDetections: groundTruth[${i}] has ${img.boxes.length} boxes but ${img.classes.length} classes; give one class per box`);
    }
    if (img.difficult !== undefined && (!Array.isArray(img.difficult) || img.difficult.length !== img.boxes.length)) {
      throw new Error(`evaluateDetections: groundTruth[${i}].difficult must have one flag per box (${img.boxes.length})`);
    }
    n += img.boxes.length;
  });
  const flat = allocate(n);
  let k = 0;
  images.forEach((img, i) => {
    img.boxes.forEach((box, j) => {
      checkBox(box, `groundTruth[${i}].boxes[${j}]`);
      checkClass(img.classes[j], numClasses, `groundTruth[${i}].classes[${j}]`);
      flat.boxes.set(box, 4 * k);
      flat.classes[k] = img.classes[j];
      flat.images[k] = i;
      flat.difficult[k] = img.difficult?.[j] ? 1 : 0;
      k++;
    });
  });
  return flat;
}

/** Validates and flattens the detections. */
export function flattenDetections(images: DetectionImage[], numClasses: number): FlatBoxes {
  let n = 0;
  images.forEach((img, i) => {
    if (img === null || typeof img !== 'object' || !Array.isArray(img.boxes) || !Array.isArray(img.classes) || !Array.isArray(img.scores)) {
      throw new Error(`evaluateDetections: detections[${i}] must be { boxes: number[][], classes: number[], scores: number[] }`);
    }
    if (img.classes.length !== img.boxes.length || img.scores.length !== img.boxes.length) {
      throw new Error(
        `evaluateDetections: detections[${i}] has ${img.boxes.length} boxes, ${img.classes.length} classes and ${img.scores.length} scores; give one of each per box`,
      );
    }
    n += img.boxes.length;
  });
  const flat = allocate(n);
  let k = 0;
  images.forEach((img, i) => {
    img.boxes.forEach((box, j) => {
      checkBox(box, `detections[${i}].boxes[${j}]`);
      checkClass(img.classes[j], numClasses, `detections[${i}].classes[${j}]`);
      const s = img.scores[j];
      if (typeof s !== 'number' || Number.isNaN(s)) {
        throw new Error(`evaluateDetections: detections[${i}].scores[${j}] = ${String(s)} is not a number`);
      }
      flat.boxes.set(box, 4 * k);
      flat.classes[k] = img.classes[j];
      flat.images[k] = i;
      flat.scores[k] = s;
      k++;
    });
  });
  return flat;
}

function allocate(n: number): FlatBoxes {
  return {
    boxes: new Float64Array(4 * n),
    classes: new Int32Array(n),
    images: new Int32Array(n),
    scores: new Float64Array(n),
    difficult: new Uint8Array(n),
  };
}

/**
 * Indices of the boxes of each class, in input order: `byClass[c]` lists the rows of class c.
 */
export function indicesByClass(classes: Int32Array, numClasses: number): Int32Array[] {
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < classes.length; i++) counts[classes[i]]++;
  const out = Array.from(counts, (n) => new Int32Array(n));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < classes.length; i++) out[classes[i]][fill[classes[i]]++] = i;
  return out;
}

/** `rows` sorted by score, highest first; ties keep their input order (a stable sort, as Python's and numpy's mergesort). */
export function sortByScoreDescending(rows: Int32Array, scores: Float64Array): Int32Array {
  const order = Array.from(rows);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(order);
}
