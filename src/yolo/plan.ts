/**
 * Everything the YOLO loss needs from one level that involves no gradient: positives, the ignore
 * mask, which raw elements the loss reads, and the constants to decode the positives' boxes.
 */
import { assignTargets, ignoreMask, type AssignOptions, type LevelTargets } from './assign.js';

/** One level's part of the loss, ready for the tensor math. */
export interface LevelPlan {
  level: number;
  /** Positives (ground truths sharing a cell count once). */
  positives: LevelTargets;
  /** Non-ignored negative cells Q. */
  numNegatives: number;
  /** Negative cells with IoU > threshold against some ground truth. */
  numIgnored: number;
  /** [P + Q] raw-element indices of the objectness logits: positives first, then negatives. */
  objectnessIndex: Int32Array;
  /** [P·2] cell column and row of each positive. */
  cellOffset: Float32Array;
  /** [P·2] anchor (w, h) of each positive, grid units. */
  anchorSize: Float32Array;
}

/**
 * Plans one level: assignment, ignore mask (IoU > `threshold`) and element indices into `raw`.
 *
 * @param raw the level's raw head output [B, H, W, A·(5+C)], flattened
 * @param grid [H, W]
 * @param anchorOf `bestAnchors(targets, opts)`
 * @example
 * const plan = planLevel(0, raw.dataSync(), [13, 13], targets, opts, bestAnchors(targets, opts), 0.5);
 */
export function planLevel(
  level: number,
  raw: ArrayLike<number>,
  grid: [number, number],
  targets: readonly Float32Array[],
  opts: AssignOptions,
  anchorOf: Int32Array,
  threshold: number,
): LevelPlan {
  const [H, W] = grid;
  const mask = opts.anchorsMask[level];
  const A = mask.length;
  const C = opts.numClasses;
  const D = 5 + C;
  const positives = assignTargets(targets, level, grid, opts, anchorOf);
  const state = ignoreMask(raw, targets, level, grid, opts, threshold); // 1 = ignored
  const P = positives.numPositives;
  for (let p = 0; p < P; p++) state[positives.cell[p]] = 2; // positives are neither ignored nor negative
  let Q = 0;
  for (let c = 0; c < state.length; c++) if (state[c] === 0) Q++;
  const numIgnored = state.length - Q - P;

  const objectnessIndex = new Int32Array(P + Q);
  const cellOffset = new Float32Array(P * 2);
  const anchorSize = new Float32Array(P * 2);
  const [inH, inW] = opts.inputShape;
  for (let p = 0; p < P; p++) {
    const cell = positives.cell[p];
    objectnessIndex[p] = cell * D + 4;
    const k = cell % A;
    cellOffset[2 * p] = Math.floor(cell / A) % W;
    cellOffset[2 * p + 1] = Math.floor(cell / (A * W)) % H;
    anchorSize[2 * p] = opts.anchors[mask[k]][0] / (inW / W);
    anchorSize[2 * p + 1] = opts.anchors[mask[k]][1] / (inH / H);
  }
  let e = P;
  for (let c = 0; c < state.length; c++) if (state[c] === 0) objectnessIndex[e++] = c * D + 4;
  return { level, positives, numNegatives: Q, numIgnored, objectnessIndex, cellOffset, anchorSize };
}
