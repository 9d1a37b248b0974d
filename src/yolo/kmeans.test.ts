import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAllClose } from '../../test/helpers.js';
import { formatAnchors, kmeansAnchors } from './kmeans.js';

const repeat = (shape: [number, number], times: number) => Array.from({ length: times }, () => shape);

test('kmeansAnchors: three separated groups give their per-dimension medians, sorted by area', () => {
  const shapes = [
    [10, 12], [11, 10], [12, 11], // median 11, 11
    [50, 100], [52, 96], [49, 98], [51, 99], // median 50.5, 98.5
    [200, 150], [210, 160], [190, 155], // median 200, 155
  ];
  // started one box per group (k-means, like the reference, can also settle in a local optimum)
  for (const initialCenters of [[[10, 12], [50, 100], [200, 150]], [[12, 11], [49, 98], [190, 155]]] as [number, number][][]) {
    const r = kmeansAnchors(shapes, { k: 3, initialCenters });
    assert.deepEqual(r.anchors, [[11, 11], [50.5, 98.5], [200, 155]]);
    // mean best IoU, computed by hand from min(w)·min(h) / union per box
    const iou = (a: number[], b: number[]) => (Math.min(a[0], b[0]) * Math.min(a[1], b[1])) / (a[0] * a[1] + b[0] * b[1] - Math.min(a[0], b[0]) * Math.min(a[1], b[1]));
    const expected = shapes.reduce((s, box) => s + Math.max(...r.anchors.map((a) => iou(box, a))), 0) / shapes.length;
    assertAllClose([r.meanIou], [expected], { rtol: 1e-12 });
  }
});

test('kmeansAnchors: the seeded start takes k distinct boxes (k = n gives every box its own anchor)', () => {
  const shapes = [[30, 10], [10, 10], [5, 50], [20, 20]];
  for (const seed of [0, 1, 2]) {
    const r = kmeansAnchors(shapes, { k: 4, seed });
    assert.deepEqual(r.anchors, [[10, 10], [5, 50], [30, 10], [20, 20]]); // areas 100, 250, 300, 400
    assert.equal(r.meanIou, 1);
  }
});

test('kmeansAnchors: is reproducible for a seed', () => {
  const shapes = Array.from({ length: 300 }, (_, i) => [5 + ((i * 37) % 101), 7 + ((i * 53) % 89)]);
  const a = kmeansAnchors(shapes, { k: 5, seed: 7 });
  const b = kmeansAnchors(shapes, { k: 5, seed: 7 });
  assert.deepEqual(a, b);
});

test('kmeansAnchors: an empty cluster restarts at the worst-served box instead of becoming NaN (quirk 21)', () => {
  // Two clusters start on the same shape: the second gets no box (ties go to the first) and must
  // move to the lone outlier, which ends with an anchor of its own.
  const shapes = [...repeat([10, 10], 10), ...repeat([100, 100], 10), [30, 300]];
  const r = kmeansAnchors(shapes, { k: 3, initialCenters: [[10, 10], [10, 10], [100, 100]] });
  assert.equal(r.reinitialised, 1);
  assert.deepEqual(r.anchors, [[10, 10], [30, 300], [100, 100]]);
  assert.equal(r.meanIou, 1);
});

test('kmeansAnchors: bad input is a one-line error; formatAnchors truncates like the reference', () => {
  assert.throws(() => kmeansAnchors([[1, 1]], { k: 2 }), /1 boxes cannot make 2 anchors/);
  assert.throws(() => kmeansAnchors([[1, 0], [2, 2]], { k: 1 }), /shape 0 = \[1, 0\] must have positive/);
  assert.equal(formatAnchors([[12.7, 16.2], [19, 36]]), '12,16, 19,36');
});
