import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchedNms, nonMaxSuppression } from './nms.js';

test('nonMaxSuppression: keeps the best box, drops its heavy overlaps, keeps distant boxes', () => {
  // box 1 lies inside box 0 (IoU 0.81); box 2 is far away; box 3 overlaps box 2 by 1/7
  const boxes = [0, 0, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30, 25, 25, 35, 35];
  assert.deepEqual([...nonMaxSuppression(boxes, [0.9, 0.95, 0.7, 0.8], { iouThreshold: 0.5 })], [1, 3, 2]);
  assert.deepEqual([...nonMaxSuppression(boxes, [0.9, 0.95, 0.7, 0.8], { iouThreshold: 0.1 })], [1, 3]);
  assert.deepEqual([...nonMaxSuppression(boxes, [0.9, 0.95, 0.7, 0.8], { iouThreshold: 0.5, maxOutput: 2 })], [1, 3]);
});

test('nonMaxSuppression: IoU exactly at the threshold survives with torchvision semantics, not with the NumPy path', () => {
  const boxes = [0, 0, 3, 1, 1, 0, 4, 1]; // intersection 2, union 4: IoU 0.5
  assert.deepEqual([...nonMaxSuppression(boxes, [0.9, 0.8], { iouThreshold: 0.5 })], [0, 1]);
  assert.deepEqual([...nonMaxSuppression(boxes, [0.9, 0.8], { iouThreshold: 0.5, suppress: 'notLess' })], [0]);
});

test('nonMaxSuppression: equal scores keep input order; duplicates collapse to the first', () => {
  const boxes = [0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10];
  assert.deepEqual([...nonMaxSuppression(boxes, [0.5, 0.5, 0.5])], [0]);
});

test('batchedNms: classes never suppress each other; output is class by class in ascending id', () => {
  const boxes = [0, 0, 10, 10, 0, 0, 10, 10, 1, 1, 10, 10, 50, 50, 60, 60];
  const kept = batchedNms(boxes, [0.6, 0.9, 0.7, 0.8], [2, 0, 2, 0], { iouThreshold: 0.3 });
  // class 0: boxes 1 (0.9) and 3 (0.8, far away); class 2: box 2 (0.7) suppresses box 0 (0.6)
  assert.deepEqual([...kept], [1, 3, 2]);
});

test('NMS: a bad input is a one-line error', () => {
  assert.throws(() => nonMaxSuppression([0, 0, 1], [0.5]), /boxes has length 3 for 1 scores/);
  assert.throws(() => batchedNms([0, 0, 1, 1], [0.5], [0, 1]), /2 classes for 1 scores/);
  assert.throws(() => nonMaxSuppression([0, 0, 1, 1], [0.5], { iouThreshold: 2 }), /iouThreshold = 2/);
});
