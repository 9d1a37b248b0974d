import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateDetections, type DetectionImage, type GroundTruthImage } from './index.js';
import { allPointAp } from './voc.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

// Hand-computed: two classes with a duplicate, a difficult match, a score tie, an unmatched box,
// and a pair whose IoU is 1/3 without and exactly 0.5 with the "+1 pixel" convention.
const groundTruth: GroundTruthImage[] = [
  { boxes: [[0, 0, 9, 9], [0, 0, 2, 2]], classes: [0, 1] },
  { boxes: [[20, 20, 29, 29], [40, 40, 49, 49]], classes: [0, 0], difficult: [false, true] },
];
const detections: DetectionImage[] = [
  { boxes: [[0, 0, 9, 9], [0, 0, 9, 9], [1, 0, 3, 2], [5, 5, 6, 6]], classes: [0, 0, 1, 2], scores: [0.9, 0.8, 0.3, 0.7] },
  // the two 0.6 boxes tie: input order (miss first, then hit) decides, as the reference's stable sort
  { boxes: [[40, 40, 49, 49], [100, 100, 110, 110], [20, 20, 29, 29]], classes: [0, 0, 0], scores: [0.7, 0.6, 0.6] },
];

test('VOC: hand-computed AP with duplicates, difficult, ties and the +1 pixel overlap', async () => {
  const r = await evaluateDetections({ groundTruth, detections, numClasses: 3, metric: 'voc' });
  // class 0: hit, duplicate (miss), difficult (ignored), miss, hit; 2 ground truths
  // recall .5 .5 .5 .5 1, precision 1 .5 .5 1/3 .5 → AP = .5·1 + .5·.5
  close(r.perClass[0], 0.75, 'AP class 0');
  assert.deepEqual(r.curves[0].recall, [0.5, 0.5, 0.5, 0.5, 1]);
  assert.deepEqual(r.curves[0].precision, [1, 0.5, 0.5, 1 / 3, 0.5]);
  // class 1: IoU (+1) = 2·3 / (9 + 9 − 6) = 0.5 ≥ 0.5 → a hit
  close(r.perClass[1], 1, 'AP class 1');
  assert.ok(Number.isNaN(r.perClass[2]), 'a class without ground truth is not evaluated');
  close(r.map, 0.875, 'mAP');
  assert.deepEqual(r.groundTruthCount, [2, 1, 0]);
  assert.deepEqual(r.detectionCount, [5, 1, 1]);
  // at score 0.5 the last detection ≥ 0.5 of class 0 is the 5th: P .5, R 1; class 1 has none ≥ 0.5 → index 0
  const at = r.atScoreThreshold ?? [];
  close(at[0].f1, 2 / 3, 'F1 class 0');
  assert.deepEqual(at[1], { precision: 1, recall: 1, f1: 1 });
});

test('VOC: without the +1 pixel the borderline pair misses', async () => {
  const r = await evaluateDetections({ groundTruth, detections, numClasses: 3, metric: 'voc', plusOnePixel: false });
  close(r.perClass[1], 0, 'AP class 1 (IoU 1/3)');
  close(r.map, 0.375, 'mAP');
});

test('VOC: the tie order matters (hit before miss gives a higher AP)', async () => {
  const swapped = detections.map((d, i) => (i === 1 ? { ...d, scores: [0.7, 0.6, 0.6], boxes: [d.boxes[0], d.boxes[2], d.boxes[1]] } : d));
  const r = await evaluateDetections({ groundTruth, detections: swapped, numClasses: 3, metric: 'voc' });
  close(r.perClass[0], 0.5 + 0.5 * (2 / 3), 'AP class 0');
});

test('allPointAp: sentinels and the right-to-left precision envelope', () => {
  close(allPointAp([], []), 0, 'no detections');
  close(allPointAp([0.5, 1], [1, 0.5]), 0.75, 'two steps');
  close(allPointAp([0.25, 0.25, 0.5], [0.5, 0.4, 1]), 0.5, 'envelope lifts earlier points');
});

// Published worked example: R. Padilla, "Object-Detection-Metrics" (github.com/rafaelpadilla/
// Object-Detection-Metrics, README "A practical example", files groundtruths/ and detections/,
// results/results.txt): 7 images, 15 ground truths, 24 detections of "person", boxes as
// x, y, w, h, IoU threshold 30 %, the +1 pixel overlap. Published: AP = 24.57 % (all-point),
// with these precision and recall lists (2 decimals).
const PADILLA_GT = [
  [[25, 16, 38, 56], [129, 123, 41, 62]],
  [[123, 11, 43, 55], [38, 132, 59, 45]],
  [[16, 14, 35, 48], [123, 30, 49, 44], [99, 139, 47, 47]],
  [[53, 42, 40, 52], [154, 43, 31, 34]],
  [[59, 31, 44, 51], [48, 128, 34, 52]],
  [[36, 89, 52, 76], [62, 58, 44, 67]],
  [[28, 31, 55, 63], [58, 67, 50, 58]],
];
const PADILLA_DET = [
  [[0.88, 5, 67, 31, 48], [0.7, 119, 111, 40, 67], [0.8, 124, 9, 49, 67]],
  [[0.71, 64, 111, 64, 58], [0.54, 26, 140, 60, 47], [0.74, 19, 18, 43, 35]],
  [[0.18, 109, 15, 77, 39], [0.67, 86, 63, 46, 45], [0.38, 160, 62, 36, 53], [0.91, 105, 131, 47, 47], [0.44, 18, 148, 40, 44]],
  [[0.35, 83, 28, 28, 26], [0.78, 28, 68, 42, 67], [0.45, 87, 89, 25, 39], [0.14, 10, 155, 60, 26]],
  [[0.62, 50, 38, 28, 46], [0.44, 95, 11, 53, 28], [0.95, 29, 131, 72, 29], [0.23, 29, 163, 72, 29]],
  [[0.45, 43, 48, 74, 38], [0.84, 17, 155, 29, 35], [0.43, 95, 110, 25, 42]],
  [[0.48, 16, 20, 101, 88], [0.95, 33, 116, 37, 49]],
];
const PADILLA_PRECISION = [1, 0.5, 0.67, 0.5, 0.4, 0.33, 0.29, 0.25, 0.22, 0.3, 0.27, 0.33, 0.38, 0.43, 0.4, 0.38, 0.35, 0.33, 0.32, 0.3, 0.29, 0.27, 0.3, 0.29];
const PADILLA_RECALL = [0.07, 0.07, 0.13, 0.13, 0.13, 0.13, 0.13, 0.13, 0.13, 0.2, 0.2, 0.27, 0.33, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.47, 0.47];

test('VOC: agrees with the published Padilla worked example (AP 24.57 %)', async () => {
  // The example converts x, y, w, h to corners x + w, y + h and then applies the +1 pixel overlap.
  const corners = ([x, y, w, h]: number[]) => [x, y, x + w, y + h];
  const r = await evaluateDetections({
    groundTruth: PADILLA_GT.map((boxes) => ({ boxes: boxes.map(corners), classes: boxes.map(() => 0) })),
    detections: PADILLA_DET.map((rows) => ({
      boxes: rows.map((row) => corners(row.slice(1))),
      classes: rows.map(() => 0),
      scores: rows.map((row) => row[0]),
    })),
    numClasses: 1,
    metric: 'voc',
    iouThreshold: 0.3,
  });
  assert.equal((r.map * 100).toFixed(2), '24.57');
  assert.deepEqual(r.curves[0].precision.map((p) => Number(p.toFixed(2))), PADILLA_PRECISION);
  assert.deepEqual(r.curves[0].recall.map((p) => Number(p.toFixed(2))), PADILLA_RECALL);
});

test('evaluateDetections: bad input is a one-line error naming the value', async () => {
  const base = { groundTruth, detections, numClasses: 3, metric: 'voc' as const };
  await assert.rejects(evaluateDetections({ ...base, numClasses: 2 }), /classes\[3\] = 2 is not a class index/);
  await assert.rejects(evaluateDetections({ ...base, detections: detections.slice(1) }), /groundTruth has 2 images but detections has 1/);
  await assert.rejects(
    evaluateDetections({ ...base, groundTruth: [{ boxes: [[0, 0, 1]], classes: [0] }, groundTruth[1]] }),
    /groundTruth\[0\]\.boxes\[0\] = \[0,0,1\] is not a box/,
  );
  await assert.rejects(evaluateDetections({ ...base, metric: 'map' as 'voc' }), /metric = "map" is unknown/);
});
