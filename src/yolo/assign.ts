/**
 * Target assignment and the ignore mask of the YOLO loss (reference-spec §2.3, §2.4, §2.10): plain
 * TypeScript on typed arrays, no gradient, over the whole batch in one pass.
 *
 * Cells are numbered in the raw head's NHWC order, cell = ((b·H + j)·W + i)·A + k, so the raw value
 * of attribute `attr` of a cell sits at offset cell·(5 + C) + attr of the flattened head output.
 */
import { iouCorners, shapeIou } from '../boxes/index.js';

/** The anchor set and geometry the assignment needs (a subset of `YoloLossOptions`). */
export interface AssignOptions {
  /** Network input [height, width] in pixels. */
  inputShape: readonly [number, number];
  /** Number of classes C. */
  numClasses: number;
  /** All anchors (w, h) in input pixels. */
  anchors: readonly (readonly [number, number])[];
  /** Anchor indices per level, level 0 first (stride 32). */
  anchorsMask: readonly (readonly number[])[];
  /** Class label smoothing ε: positives' class targets become y·(1 − ε) + ε/C. Default 0. */
  labelSmoothing?: number;
}

/** The positives of one level. */
export interface LevelTargets {
  /** [H, W] of the level. */
  grid: [number, number];
  /** B·H·W·A. */
  numCells: number;
  /** Number of positive cells P (ground truths sharing a cell count once). */
  numPositives: number;
  /** [P] cell index of each positive, ascending. */
  cell: Int32Array;
  /** [P·4] target box (cx, cy, w, h) in grid units of the level. */
  box: Float32Array;
  /** [P·C] class targets: 1 for each class of the cell's ground truths (multi-hot on collisions), smoothed. */
  classes: Float32Array;
}

/**
 * The anchor each ground truth is matched to: the best shape IoU over all anchors (ties → lowest
 * index); when that anchor is in no level's mask (YOLOv4-tiny's anchor 0) the best one that is.
 *
 * @param targets per image, rows [cx, cy, w, h, class] normalised to the input
 * @returns one anchor index per ground truth, images concatenated
 * @example
 * bestAnchors([new Float32Array([0.5, 0.5, 0.1, 0.1, 0])], { inputShape: [416, 416], numClasses: 1,
 *   anchors: [[12, 16], [40, 40]], anchorsMask: [[0, 1]] }); // Int32Array [1]
 */
export function bestAnchors(targets: readonly Float32Array[], opts: AssignOptions): Int32Array {
  const [inH, inW] = opts.inputShape;
  const inSomeMask = new Uint8Array(opts.anchors.length);
  for (const mask of opts.anchorsMask) for (const a of mask) inSomeMask[a] = 1;
  const count = targets.reduce((n, t) => n + t.length / 5, 0);
  const out = new Int32Array(count);
  const ious = new Float64Array(opts.anchors.length);
  let g = 0;
  for (const rows of targets) {
    for (let r = 0; r < rows.length; r += 5, g++) {
      const w = rows[r + 2] * inW;
      const h = rows[r + 3] * inH;
      let best = 0;
      for (let a = 0; a < opts.anchors.length; a++) {
        ious[a] = shapeIou(w, h, opts.anchors[a][0], opts.anchors[a][1]);
        if (ious[a] > ious[best]) best = a;
      }
      if (!inSomeMask[best]) {
        // next best by descending IoU (ties → lowest index) that some level uses
        best = -1;
        for (let a = 0; a < ious.length; a++) {
          if (inSomeMask[a] && (best < 0 || ious[a] > ious[best])) best = a;
        }
      }
      out[g] = best;
    }
  }
  return out;
}

/**
 * Assigns ground truths to the cells of one level: a ground truth whose anchor (see {@link bestAnchors})
 * is in `anchorsMask[level]` makes the cell (⌊cx·W⌋, ⌊cy·H⌋) of that anchor slot positive. When two
 * ground truths fall on the same cell and slot, the later one's box wins and the class targets
 * accumulate (multi-hot), as in the reference.
 *
 * @param targets per image, rows [cx, cy, w, h, class] normalised to the input (validated by the caller)
 * @param level output level (0 = stride 32)
 * @param grid [H, W] of the level
 * @param anchorOf result of {@link bestAnchors} for these targets
 * @example
 * const opts = { inputShape: [416, 416] as [number, number], numClasses: 20, anchors: YOLOV4_ANCHORS, anchorsMask: YOLOV4_ANCHORS_MASK };
 * const t = [new Float32Array([0.5, 0.5, 0.3, 0.3, 7])];
 * assignTargets(t, 0, [13, 13], opts, bestAnchors(t, opts)).cell; // Int32Array [(6·13 + 6)·3 + 1]
 */
export function assignTargets(
  targets: readonly Float32Array[],
  level: number,
  grid: [number, number],
  opts: AssignOptions,
  anchorOf: Int32Array,
): LevelTargets {
  const [H, W] = grid;
  const mask = opts.anchorsMask[level];
  const A = mask.length;
  const C = opts.numClasses;
  const numCells = targets.length * H * W * A;
  // cell → ground truth written last (−1: none); an index array, not per-cell objects
  const owner = new Int32Array(numCells).fill(-1);
  // ground truth → its positive cell at this level (−1: not assigned here) and its class
  const cellOfGt = new Int32Array(anchorOf.length).fill(-1);
  const classOfGt = new Int32Array(anchorOf.length);
  const hits: number[] = [];
  let g = 0;
  for (let b = 0; b < targets.length; b++) {
    const rows = targets[b];
    for (let r = 0; r < rows.length; r += 5, g++) {
      const k = mask.indexOf(anchorOf[g]);
      if (k < 0) continue;
      // float32 products as in the reference; cx = 1 exactly stays in the last cell
      const i = Math.min(W - 1, Math.floor(Math.fround(rows[r] * W)));
      const j = Math.min(H - 1, Math.floor(Math.fround(rows[r + 1] * H)));
      const cell = ((b * H + j) * W + i) * A + k;
      if (owner[cell] < 0) hits.push(cell);
      owner[cell] = g;
      cellOfGt[g] = cell;
      classOfGt[g] = rows[r + 4];
    }
  }
  const cell = Int32Array.from(hits).sort();
  const P = cell.length;
  const box = new Float32Array(P * 4);
  const classes = new Float32Array(P * C);
  const rowOf = rowIndex(targets);
  const posOf = new Map<number, number>();
  cell.forEach((c, p) => posOf.set(c, p));
  // every ground truth of a cell adds its class (quirk 2: multi-hot on collisions)
  for (let gt = 0; gt < cellOfGt.length; gt++) {
    if (cellOfGt[gt] < 0) continue;
    classes[(posOf.get(cellOfGt[gt]) as number) * C + classOfGt[gt]] = 1;
  }
  for (let p = 0; p < P; p++) {
    const [rows, r] = rowOf(owner[cell[p]]);
    box[4 * p] = rows[r] * W;
    box[4 * p + 1] = rows[r + 1] * H;
    box[4 * p + 2] = rows[r + 2] * W;
    box[4 * p + 3] = rows[r + 3] * H;
  }
  const eps = opts.labelSmoothing ?? 0;
  if (eps > 0) for (let e = 0; e < classes.length; e++) classes[e] = classes[e] * (1 - eps) + eps / C;
  return { grid, numCells, numPositives: P, cell, box, classes };
}

// Global ground-truth number → [rows of its image, offset of its row].
function rowIndex(targets: readonly Float32Array[]): (g: number) => [Float32Array, number] {
  const start: number[] = [];
  let n = 0;
  for (const rows of targets) {
    start.push(n);
    n += rows.length / 5;
  }
  return (g) => {
    let b = start.length - 1;
    while (start[b] > g) b--;
    return [targets[b], (g - start[b]) * 5];
  };
}

/**
 * The ignore mask of one level: 1 for every cell whose decoded predicted box has IoU > `threshold`
 * (strict) with some ground truth of its image, whatever level that ground truth is assigned to.
 * Images without ground truths ignore nothing.
 *
 * @param raw flattened raw head output [B, H, W, A·(5+C)] (NHWC, before activations)
 * @param targets per image, rows [cx, cy, w, h, class] normalised to the input
 * @param level output level (selects `anchorsMask[level]`)
 * @param grid [H, W] of the level
 * @param threshold IoU threshold in [0.5, 1), default 0.5 (from ½ up, only cells under a ground truth can pass)
 * @returns Uint8Array [B·H·W·A] in cell order
 * @example
 * const ignored = ignoreMask(await raw.data() as Float32Array, targets, 0, [13, 13], opts);
 */
export function ignoreMask(
  raw: ArrayLike<number>,
  targets: readonly Float32Array[],
  level: number,
  grid: [number, number],
  opts: AssignOptions,
  threshold = 0.5,
): Uint8Array {
  if (!(threshold >= 0.5 && threshold < 1)) {
    throw new Error(`ignoreMask: threshold = ${threshold} is invalid; use an IoU in [0.5, 1) (the reference uses 0.5).`);
  }
  const [H, W] = grid;
  const [inH, inW] = opts.inputShape;
  const mask = opts.anchorsMask[level];
  const A = mask.length;
  const D = 5 + opts.numClasses;
  // anchors of this level in grid units, and ln(anchor area)
  const anchorW = mask.map((a) => Math.fround(opts.anchors[a][0] / (inW / W)));
  const anchorH = mask.map((a) => Math.fround(opts.anchors[a][1] / (inH / H)));
  const logAnchorArea = anchorW.map((w, k) => Math.log(w * anchorH[k]));
  const logThreshold = Math.log(threshold);
  const out = new Uint8Array(targets.length * H * W * A);
  for (let b = 0; b < targets.length; b++) {
    const rows = targets[b];
    for (let r = 0; r < rows.length; r += 5) {
      const cx = Math.fround(rows[r] * W);
      const cy = Math.fround(rows[r + 1] * H);
      const w = Math.fround(rows[r + 2] * W);
      const h = Math.fround(rows[r + 3] * H);
      const [x1, y1, x2, y2] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
      const logArea = Math.log(w * h);
      // IoU > ½ puts the predicted centre inside the ground truth (else less than half of the
      // prediction overlaps it), so only cells under the box can qualify (one cell of margin)
      const i0 = Math.max(0, Math.floor(x1) - 1);
      const i1 = Math.min(W - 1, Math.floor(x2) + 1);
      const j0 = Math.max(0, Math.floor(y1) - 1);
      const j1 = Math.min(H - 1, Math.floor(y2) + 1);
      for (let j = j0; j <= j1; j++) {
        for (let i = i0; i <= i1; i++) {
          for (let k = 0; k < A; k++) {
            const cell = ((b * H + j) * W + i) * A + k;
            if (out[cell]) continue;
            const o = cell * D;
            // IoU ≤ min(area)/max(area): the predicted area must be within (t, 1/t)× the ground
            // truth's; tested on tw + th = ln(area / anchor area) before any exp (with a margin)
            const rel = raw[o + 2] + raw[o + 3] + logAnchorArea[k] - logArea;
            if (!(rel > logThreshold - 1e-6 && rel < -logThreshold + 1e-6)) continue;
            const hw = (Math.exp(raw[o + 2]) * anchorW[k]) / 2;
            const hh = (Math.exp(raw[o + 3]) * anchorH[k]) / 2;
            const px = 1 / (1 + Math.exp(-raw[o])) + i;
            const py = 1 / (1 + Math.exp(-raw[o + 1])) + j;
            if (iouCorners(px - hw, py - hh, px + hw, py + hh, x1, y1, x2, y2) > threshold) out[cell] = 1;
          }
        }
      }
    }
  }
  return out;
}
