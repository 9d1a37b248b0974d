import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAllClose } from '../../test/helpers.js';
import { correctBox, decodeOutputs, suppressDetections } from './decode.js';

const logit = (p: number) => Math.log(p / (1 - p));

/** An NHWC level filled with a very negative objectness everywhere. */
function emptyLevel(h: number, w: number, anchors: number, numClasses: number): Float32Array {
  const attrs = 5 + numClasses;
  const data = new Float32Array(h * w * anchors * attrs);
  for (let i = 0; i < h * w * anchors; i++) data[i * attrs + 4] = -20;
  return data;
}

function setCell(data: Float32Array, w: number, anchors: number, numClasses: number, y: number, x: number, a: number, values: number[]): void {
  const attrs = 5 + numClasses;
  data.set(values, ((y * w + x) * anchors + a) * attrs);
}

const OPTS = {
  inputShape: [64, 64] as [number, number],
  numClasses: 2,
  anchors: [[8, 8], [16, 32], [32, 16], [40, 40]] as [number, number][],
  anchorsMask: [[2, 3], [0, 1]],
};

test('decodeOutputs: hand-built cells decode to the expected boxes, in level, anchor, row, column order', () => {
  const l0 = emptyLevel(2, 2, 2, 2); // stride 32
  const l1 = emptyLevel(4, 4, 2, 2); // stride 16
  // level 0, anchor slot 1 (anchor 3: 40×40), cell (row 0, column 1): σ(tx)=0.5, σ(ty)=0.75, tw=ln 2, th=0
  setCell(l0, 2, 2, 2, 0, 1, 1, [0, Math.log(3), Math.log(2), 0, logit(0.9), logit(0.2), logit(0.7)]);
  // level 1, anchor slot 0 (anchor 0: 8×8), cell (row 3, column 2)
  setCell(l1, 4, 2, 2, 3, 2, 0, [logit(0.25), 0, 0, Math.log(0.5), logit(0.6), logit(0.9), logit(0.1)]);
  const rows = decodeOutputs([{ data: l0, height: 2, width: 2 }, { data: l1, height: 4, width: 4 }], OPTS);
  assert.equal(rows.length, (2 * 2 * 2 + 4 * 4 * 2) * 7);
  const r0 = (1 * 4 + 0 * 2 + 1) * 7; // level 0: anchor slot 1, row 0, column 1
  assertAllClose(rows.subarray(r0, r0 + 7), [(0.5 + 1) / 2, (0.75 + 0) / 2, 80 / 64, 40 / 64, 0.9, 0.2, 0.7], { what: 'level 0 row' });
  const r1 = (8 + 0 * 16 + 3 * 4 + 2) * 7; // level 1: anchor slot 0, row 3, column 2
  assertAllClose(rows.subarray(r1, r1 + 7), [(0.25 + 2) / 4, (0.5 + 3) / 4, 8 / 64, 4 / 64, 0.6, 0.9, 0.1], { what: 'level 1 row' });
});

test('decodeOutputs: darknet scale_x_y stretches the offset around the cell centre', () => {
  const l0 = emptyLevel(2, 2, 2, 2);
  const l1 = emptyLevel(4, 4, 2, 2);
  setCell(l0, 2, 2, 2, 0, 0, 0, [Math.log(3), 0, 0, 0, 0, 0, 0]);
  const rows = decodeOutputs([{ data: l0, height: 2, width: 2 }, { data: l1, height: 4, width: 4 }], { ...OPTS, scaleXY: [1.2, 1.1] });
  assertAllClose([rows[0], rows[1]], [(0.75 * 1.2 - 0.1) / 2, (0.5 * 1.2 - 0.1) / 2]);
});

test('suppressDetections: threshold on objectness × class probability (≥), class-wise NMS', () => {
  const attrs = 7;
  const row = (cx: number, cy: number, w: number, h: number, obj: number, p0: number, p1: number) => [cx, cy, w, h, obj, p0, p1];
  const rows = Float32Array.from([
    ...row(0.5, 0.5, 0.2, 0.2, 0.9, 0.1, 0.9), // class 1, score 0.81
    ...row(0.51, 0.5, 0.2, 0.2, 0.9, 0.2, 0.8), // class 1, overlaps the first → suppressed
    ...row(0.5, 0.5, 0.2, 0.2, 0.8, 0.75, 0.1), // class 0, same place: kept (other class), score 0.6
    ...row(0.2, 0.2, 0.1, 0.1, 0.5, 1, 0), // class 0, score 0.5 exactly: kept (≥)
    ...row(0.8, 0.8, 0.1, 0.1, 0.5, 0.99, 0), // below the threshold
  ]);
  assert.equal(rows.length % attrs, 0);
  const dets = suppressDetections(rows, 2, { confidence: 0.5, nmsIou: 0.3 });
  assert.deepEqual(dets.map((d) => d.classId), [0, 0, 1]);
  assertAllClose(dets.map((d) => d.score), [0.6, 0.5, 0.81], { rtol: 1e-6 });
  assertAllClose(dets[2].box, [0.4, 0.4, 0.6, 0.6], { rtol: 1e-6 });
  assert.equal(suppressDetections(rows, 2, { confidence: 0.5, nmsIou: 0.3, maxDetections: 1 })[0].classId, 1);
});

test('correctBox: stretch and letterbox round trips back to image pixels', () => {
  assert.deepEqual(correctBox([0.25, 0.5, 0.5, 1], [640, 480], [416, 416], false), [160, 240, 320, 480]);
  // 640×480 letterboxed into 416: scale 0.65, content 416×312 at dy = 52
  const toInput = ([x1, y1, x2, y2]: number[]) => [(x1 * 0.65) / 416, (y1 * 0.65 + 52) / 416, (x2 * 0.65) / 416, (y2 * 0.65 + 52) / 416];
  assertAllClose(correctBox(toInput([100, 100, 300, 200]), [640, 480], [416, 416], true), [100, 100, 300, 200], { atol: 1e-9 });
  assert.deepEqual(correctBox([0.25, 0.25, 0.75, 0.75], [640, 320], [416, 416], true), [160, 0, 480, 320]);
});

test('correctBox: the resized size is rounded half to even, as the reference (quirk 15)', () => {
  // 832×417 into 416×416: ratio 0.5, resized height 208.5 → 208, so content spans y 0.25 … 0.75
  const [, y1, , y2] = correctBox([0, 0.25, 1, 0.75], [832, 417], [416, 416], true);
  assertAllClose([y1, y2], [0, 417], { atol: 1e-9 });
});
