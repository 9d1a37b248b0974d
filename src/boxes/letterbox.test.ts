import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cxcywhToXyxy, letterbox, xyxyToCxcywh } from './letterbox.js';

test('corner ↔ centre conversions, hand-computed and round trip', () => {
  assert.deepEqual(Array.from(xyxyToCxcywh([0, 0, 10, 20, 4, 6, 10, 8])), [5, 10, 10, 20, 7, 7, 6, 2]);
  assert.deepEqual(Array.from(cxcywhToXyxy([5, 10, 10, 20])), [0, 0, 10, 20]);
  const boxes = [1.5, 2.25, 30.75, 40.5, 100, 3, 120, 9];
  assert.deepEqual(Array.from(cxcywhToXyxy(xyxyToCxcywh(boxes))), boxes);
  assert.throws(() => xyxyToCxcywh([1, 2, 3]), /length 3 is not a multiple of 4/);
});

test('letterbox: floor sizes, centred with floor division (spec §3.4)', () => {
  // 640x480 into 416: scale 0.65 → 416 x 312, dy = (416 − 312) // 2 = 52
  assert.deepEqual(letterbox([640, 480], [416, 416]), { scale: 0.65, nw: 416, nh: 312, dx: 0, dy: 52 });
  // 500x375 into 416x416: scale 0.832 → 416 x 312, dy 52
  assert.deepEqual(letterbox([500, 375], [416, 416]), { scale: 0.832, nw: 416, nh: 312, dx: 0, dy: 52 });
  // odd leftover: 100x33 into 64x64 → scale 0.64 → 64 x int(21.12) = 21, dy = 43 // 2 = 21
  assert.deepEqual(letterbox([100, 33], [64, 64]), { scale: 0.64, nw: 64, nh: 21, dx: 0, dy: 21 });
  assert.throws(() => letterbox([0, 10], [416, 416]), /sizes must be positive, got image 0x10/);
});
