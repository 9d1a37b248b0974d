// Box IoU on typed arrays against hand-computed values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertAllClose } from '../../test/helpers.js';
import { iouCorners, iouMatrix, shapeIou, shapeIouMatrix } from './iou.js';

describe('boxes IoU', () => {
  it('iouCorners: overlap, containment, touching, disjoint, empty', () => {
    assert.equal(iouCorners(0, 0, 2, 2, 1, 1, 3, 3), 1 / 7);
    assert.equal(iouCorners(0, 0, 4, 4, 1, 1, 3, 3), 4 / 16);
    assert.equal(iouCorners(0, 0, 1, 1, 1, 0, 2, 1), 0); // shared edge only
    assert.equal(iouCorners(0, 0, 1, 1, 5, 5, 6, 6), 0);
    assert.equal(iouCorners(1, 1, 1, 1, 1, 1, 1, 1), 0); // two empty boxes: 0, not NaN
  });

  it('iouMatrix is [n, m] row-major and the same in both formats', () => {
    const a = [0, 0, 2, 2, 10, 10, 14, 12];
    const b = [1, 1, 3, 3, 0, 0, 2, 2, 11, 10, 14, 13];
    const expected = [1 / 7, 1, 0, 0, 0, 6 / (8 + 9 - 6)];
    assertAllClose(iouMatrix(a, b), expected, { rtol: 1e-6 });
    const toCxcywh = (r: number[]) => r.flatMap((_, i) => (i % 4 ? [] : [(r[i] + r[i + 2]) / 2, (r[i + 1] + r[i + 3]) / 2, r[i + 2] - r[i], r[i + 3] - r[i + 1]]));
    assertAllClose(iouMatrix(toCxcywh(a), toCxcywh(b), 'cxcywh'), expected, { rtol: 1e-6 });
  });

  it('shape IoU centres both boxes', () => {
    assert.equal(shapeIou(10, 20, 20, 10), 100 / 300);
    assert.equal(shapeIou(12, 16, 12, 16), 1);
    assertAllClose(shapeIouMatrix([10, 20], [10, 20, 20, 10, 5, 5]), [1, 1 / 3, 25 / 200], { rtol: 1e-6 });
  });

  it('rejects rows that are not whole boxes', () => {
    assert.throws(() => iouMatrix([0, 0, 1], [0, 0, 1, 1]), /iouMatrix: a has length 3, not a multiple of 4/);
    assert.throws(() => shapeIouMatrix([1, 2], [1]), /shapeIouMatrix: b has length 1, not a multiple of 2/);
    assert.throws(() => iouMatrix([0, 0, 1, 1], [0, 0, 1, 1], 'xywh' as 'xyxy'), /format = "xywh" is invalid/);
  });
});
