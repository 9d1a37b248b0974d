// Target assignment and the ignore mask against hand-built cases and a brute-force IoU matrix.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { iouMatrix } from '../boxes/index.js';
import { YOLOV4_ANCHORS, YOLOV4_ANCHORS_MASK, YOLOV4_TINY_ANCHORS, YOLOV4_TINY_ANCHORS_MASK } from './anchors.js';
import { assignTargets, bestAnchors, ignoreMask, type AssignOptions } from './assign.js';

const V4: AssignOptions = { inputShape: [416, 416], numClasses: 5, anchors: YOLOV4_ANCHORS, anchorsMask: YOLOV4_ANCHORS_MASK };
const TINY: AssignOptions = { inputShape: [416, 416], numClasses: 5, anchors: YOLOV4_TINY_ANCHORS, anchorsMask: YOLOV4_TINY_ANCHORS_MASK };
const GRIDS: [number, number][] = [[13, 13], [26, 26], [52, 52]];

/** A box of exactly the shape of `anchor` (pixels), centred at (cx, cy) of a 416 input. */
function onAnchor(anchor: readonly [number, number], cx: number, cy: number, cls: number): number[] {
  return [cx, cy, anchor[0] / 416, anchor[1] / 416, cls];
}

/** A normalised float32 target value times the grid size, in float32 as the reference computes it. */
const gridUnits = (v: number, size: number) => Math.fround(Math.fround(v) * size);

describe('assignTargets', () => {
  it('a box exactly on anchor 7 is positive at level 0, slot 1, its own cell, and nowhere else', () => {
    const targets = [new Float32Array(onAnchor(YOLOV4_ANCHORS[7], 0.5, 0.3, 3))];
    const anchorOf = bestAnchors(targets, V4);
    assert.deepEqual(Array.from(anchorOf), [7]);
    const l0 = assignTargets(targets, 0, GRIDS[0], V4, anchorOf);
    // cx·13 = 6.5 → column 6; cy·13 = 3.9 → row 3; cell = ((b·H + j)·W + i)·A + k
    assert.deepEqual(Array.from(l0.cell), [((0 * 13 + 3) * 13 + 6) * 3 + 1]);
    assert.deepEqual(Array.from(l0.box), [gridUnits(0.5, 13), gridUnits(0.3, 13), gridUnits(192 / 416, 13), gridUnits(243 / 416, 13)]);
    assert.deepEqual(Array.from(l0.classes), [0, 0, 0, 1, 0]);
    assert.equal(assignTargets(targets, 1, GRIDS[1], V4, anchorOf).numPositives, 0);
    assert.equal(assignTargets(targets, 2, GRIDS[2], V4, anchorOf).numPositives, 0);
  });

  it('each image of the batch gets its own cells; an empty image gets none', () => {
    const targets = [new Float32Array(0), new Float32Array(onAnchor(YOLOV4_ANCHORS[1], 0.1, 0.9, 0))];
    const l2 = assignTargets(targets, 2, GRIDS[2], V4, bestAnchors(targets, V4));
    // image 1, row ⌊0.9·52⌋ = 46, column ⌊0.1·52⌋ = 5, slot 1
    assert.deepEqual(Array.from(l2.cell), [((1 * 52 + 46) * 52 + 5) * 3 + 1]);
    assert.equal(l2.numCells, 2 * 52 * 52 * 3);
  });

  it('two boxes on one cell and slot: the later box wins, the classes become multi-hot', () => {
    const a = onAnchor(YOLOV4_ANCHORS[4], 0.51, 0.52, 1);
    const b = [0.53, 0.5, 75 / 416, 56 / 416, 4]; // same cell at 26×26, best anchor still 4
    const targets = [new Float32Array([...a, ...b])];
    const anchorOf = bestAnchors(targets, V4);
    assert.deepEqual(Array.from(anchorOf), [4, 4]);
    const l1 = assignTargets(targets, 1, GRIDS[1], V4, anchorOf);
    assert.equal(l1.numPositives, 1);
    assert.deepEqual(Array.from(l1.box), [gridUnits(0.53, 26), gridUnits(0.5, 26), gridUnits(75 / 416, 26), gridUnits(56 / 416, 26)]);
    assert.deepEqual(Array.from(l1.classes), [0, 1, 0, 0, 1]);
  });

  it('label smoothing turns class targets into y·(1 − ε) + ε/C', () => {
    const targets = [new Float32Array(onAnchor(YOLOV4_ANCHORS[0], 0.2, 0.2, 2))];
    const l2 = assignTargets(targets, 2, GRIDS[2], { ...V4, labelSmoothing: 0.1 }, bestAnchors(targets, V4));
    const off = 0.1 / 5;
    assert.deepEqual(Array.from(l2.classes), [off, off, 0.9 + off, off, off].map(Math.fround));
  });

  it('YOLOv4-tiny: anchor 3 is positive at both levels; a best anchor 0 falls back to the next best in a mask', () => {
    const shared = onAnchor(YOLOV4_TINY_ANCHORS[3], 0.5, 0.5, 0);
    const small = onAnchor(YOLOV4_TINY_ANCHORS[0], 0.25, 0.25, 1); // best: anchor 0, in no mask
    const targets = [new Float32Array([...shared, ...small])];
    const anchorOf = bestAnchors(targets, TINY);
    assert.deepEqual(Array.from(anchorOf), [3, 1]); // shape IoU with 10×14: anchor 1 (23×27) 140/621 > anchor 2
    const l0 = assignTargets(targets, 0, [13, 13], TINY, anchorOf);
    const l1 = assignTargets(targets, 1, [26, 26], TINY, anchorOf);
    assert.deepEqual(Array.from(l0.cell), [((0 * 13 + 6) * 13 + 6) * 3 + 0]); // slot 0 of [3, 4, 5]
    assert.deepEqual(Array.from(l1.cell).sort((x, y) => x - y), [((0 * 26 + 6) * 26 + 6) * 3 + 0, ((0 * 26 + 13) * 26 + 13) * 3 + 2]);
  });
});

describe('ignoreMask', () => {
  it('matches a brute-force IoU matrix over every predicted box (the pruning skips nothing)', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    const B = 3;
    const D = 5 + V4.numClasses;
    const targets = [0, 1, 2].map((b) => {
      const rows: number[] = [];
      for (let t = 0; t < (b === 2 ? 0 : 4 + b); t++) rows.push(0.1 + 0.8 * rand(), 0.1 + 0.8 * rand(), 0.03 + 0.5 * rand(), 0.03 + 0.5 * rand(), 0);
      return new Float32Array(rows);
    });
    let ignoredTotal = 0;
    GRIDS.forEach(([H, W], l) => {
      const A = 3;
      // small logits so that many predictions land near the ground truths
      const raw = Float32Array.from({ length: B * H * W * A * D }, () => 0.6 * gauss());
      const mask = ignoreMask(raw, targets, l, [H, W], V4);
      for (let b = 0; b < B; b++) {
        const n = targets[b].length / 5;
        const gt = Array.from({ length: n }, (_, t) => [targets[b][5 * t] * W, targets[b][5 * t + 1] * H, targets[b][5 * t + 2] * W, targets[b][5 * t + 3] * H]).flat();
        const pred: number[] = [];
        for (let j = 0; j < H; j++) for (let i = 0; i < W; i++) for (let k = 0; k < A; k++) {
          const o = (((b * H + j) * W + i) * A + k) * D;
          const anchor = YOLOV4_ANCHORS[YOLOV4_ANCHORS_MASK[l][k]];
          pred.push(1 / (1 + Math.exp(-raw[o])) + i, 1 / (1 + Math.exp(-raw[o + 1])) + j, Math.exp(raw[o + 2]) * anchor[0] / (416 / W), Math.exp(raw[o + 3]) * anchor[1] / (416 / H));
        }
        const ious = iouMatrix(pred, gt, 'cxcywh');
        for (let c = 0; c < H * W * A; c++) {
          let best = 0;
          for (let t = 0; t < n; t++) best = Math.max(best, ious[c * n + t]);
          const expected = best > 0.5 ? 1 : 0;
          assert.equal(mask[b * H * W * A + c], expected, `level ${l} image ${b} cell ${c}: max IoU ${best}`);
          ignoredTotal += expected;
        }
      }
    });
    assert.ok(ignoredTotal > 20, `only ${ignoredTotal} ignored cells: the case does not exercise the mask`);
  });

  it('rejects a threshold outside [0, 1)', () => {
    assert.throws(() => ignoreMask(new Float32Array(13 * 13 * 30), [new Float32Array(0)], 0, [13, 13], V4, 1.5), /threshold = 1.5 is invalid; use an IoU in \[0.5, 1\)/);
  });
});
