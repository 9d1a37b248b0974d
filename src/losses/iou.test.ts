// The IoU family on tensors against hand-computed values and a float64 transcription of
// reference-spec §2.5 (values and central finite differences).
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import { assertAllClose, backendsUnderTest, useBackend } from '../../test/helpers.js';
import { boxIou, iouLoss, IOU_TYPES, type IouType } from './iou.js';

type Box = [number, number, number, number];
const EPS = 1e-6;
const cl = (x: number) => Math.max(x, EPS);

/** §2.5 in float64, one pair of (cx, cy, w, h) boxes. */
function reference(b1: Box, b2: Box, type: IouType): number {
  const [x1, y1, w1, h1] = b1;
  const [x2, y2, w2, h2] = b2;
  const ax1 = x1 - w1 / 2, ax2 = x1 + w1 / 2, ay1 = y1 - h1 / 2, ay2 = y1 + h1 / 2;
  const bx1 = x2 - w2 / 2, bx2 = x2 + w2 / 2, by1 = y2 - h2 / 2, by2 = y2 + h2 / 2;
  const inter = Math.max(Math.min(ax2, bx2) - Math.max(ax1, bx1), 0) * Math.max(Math.min(ay2, by2) - Math.max(ay1, by1), 0);
  const union = w1 * h1 + w2 * h2 - inter;
  const iou = inter / cl(union);
  const ew = Math.max(Math.max(ax2, bx2) - Math.min(ax1, bx1), 0);
  const eh = Math.max(Math.max(ay2, by2) - Math.min(ay1, by1), 0);
  const dx = x1 - x2, dy = y1 - y2;
  switch (type) {
    case 'iou':
      return iou;
    case 'giou':
      return iou - (ew * eh - union) / cl(ew * eh);
    case 'diou':
      return iou - (dx * dx + dy * dy) / cl(ew * ew + eh * eh);
    case 'ciou': {
      const v = (4 / Math.PI ** 2) * (Math.atan(w1 / cl(h1)) - Math.atan(w2 / cl(h2))) ** 2;
      const alpha = v / cl(1 - iou + v);
      return iou - (dx * dx + dy * dy) / cl(ew * ew + eh * eh) - alpha * v;
    }
    case 'siou': {
      const sigma = Math.sqrt(dx * dx + dy * dy);
      const s1 = Math.min(Math.max(Math.abs(dx) / cl(sigma), 0), 1);
      const s2 = Math.min(Math.max(Math.abs(dy) / cl(sigma), 0), 1);
      const s = s1 > Math.SQRT1_2 ? s2 : s1;
      const gamma = 2 - Math.cos(2 * Math.asin(s) - Math.PI / 2);
      const distance = 2 - Math.exp(-gamma * (dx / cl(ew)) ** 2) - Math.exp(-gamma * (dy / cl(eh)) ** 2);
      const ow = Math.abs(w1 - w2) / cl(Math.max(w1, w2));
      const oh = Math.abs(h1 - h2) / cl(Math.max(h1, h2));
      const shape = (1 - Math.exp(-ow)) ** 4 + (1 - Math.exp(-oh)) ** 4;
      return iou - 0.5 * (distance + shape);
    }
  }
}

// overlapping pairs in general position (no ties in min/max, both s-branches of SIoU)
const PAIRS: [Box, Box][] = [
  [[5, 5, 4, 3], [6, 5.6, 3.5, 4]],
  [[2.3, 7.1, 1.2, 2.6], [2.9, 6.2, 2.0, 1.7]],
  [[10.4, 3.3, 6.1, 2.2], [9.1, 3.1, 4.4, 3.9]],
  [[0.7, 0.4, 0.5, 0.9], [1.3, 1.9, 0.8, 0.6]], // no overlap
];

describe('boxIou', async () => {
  const backends = await backendsUnderTest();
  it('hand-computed values', () => {
    // IoU 12/20, enclose 5×4: GIoU 0.6 − 0/20, DIoU 0.6 − 1/41, same aspect ratio: CIoU = DIoU
    const pred = tf.tensor2d([[5, 5, 4, 4]]);
    const target = tf.tensor2d([[6, 5, 4, 4]]);
    assertAllClose(boxIou(pred, target, { type: 'iou' }).dataSync(), [0.6]);
    assertAllClose(boxIou(pred, target, { type: 'giou' }).dataSync(), [0.6]);
    assertAllClose(boxIou(pred, target, { type: 'diou' }).dataSync(), [0.6 - 1 / 41]);
    assertAllClose(boxIou(pred, target, { type: 'ciou' }).dataSync(), [0.6 - 1 / 41]);
    // SIoU: Δ = (−1, 0) → s₁ = 1 > √½ → s = s₂ = 0, angle cost cos(−π/2) = 0, γ = 2;
    // ρx = (1/5)², ρy = 0: distance 1 − e^(−0.08); equal shapes: shape cost 0
    assertAllClose(boxIou(pred, target, { type: 'siou' }).dataSync(), [0.6 - 0.5 * (1 - Math.exp(-0.08))]);
  });

  it('identical boxes give 1 for every type; iouLoss gives 0', () => {
    const b = tf.tensor2d([[3, 4, 2, 5], [1, 1, 0.5, 0.25]]);
    for (const type of IOU_TYPES) {
      assertAllClose(boxIou(b, b, { type }).dataSync(), [1, 1], { what: type });
      assertAllClose(iouLoss(b, b, { type }).dataSync(), [0], { what: type });
    }
  });

  for (const backend of backends) {
    describe(backend, () => {
      before(() => useBackend(backend));
      for (const type of IOU_TYPES) {
        it(`${type}: values and gradient match §2.5 in float64 (finite differences)`, () => {
          const pred = tf.tensor2d(PAIRS.map((p) => p[0]));
          const target = tf.tensor2d(PAIRS.map((p) => p[1]));
          const expected = PAIRS.map(([a, b]) => reference(a, b, type));
          assertAllClose(boxIou(pred, target, { type }).dataSync(), expected, { rtol: 1e-5, atol: 1e-6, what: `${type} value` });
          const grad = tf.grad((p: tf.Tensor) => tf.sum(boxIou(p, target, { type })))(pred).dataSync();
          const h = 1e-6;
          const numeric = PAIRS.flatMap(([a, b]) => a.map((_, k) => {
            const up = [...a] as Box;
            const down = [...a] as Box;
            up[k] += h;
            down[k] -= h;
            return (reference(up, b, type) - reference(down, b, type)) / (2 * h);
          }));
          assertAllClose(grad, numeric, { rtol: 1e-3, atol: 1e-5, what: `${type} gradient` });
        });
      }
    });
  }

  it('rejects a bad type or shape with the fix', () => {
    const b = tf.tensor2d([[1, 1, 1, 1]]);
    assert.throws(() => boxIou(b, b, { type: 'eiou' as IouType }), /boxIou: type = "eiou" is invalid; use one of iou, giou, diou, ciou, siou/);
    assert.throws(() => boxIou(tf.tensor2d([[1, 1, 1]]), tf.tensor2d([[1, 1, 1]])), /boxIou: pred has shape \[1,3\]; its last axis must hold 4 values/);
    assert.throws(() => boxIou(b, tf.tensor2d([[1, 1, 1, 1], [2, 2, 2, 2]])), /target shape \[2,4\] does not match pred shape \[1,4\]/);
  });
});
