// YoloLoss on hand-built cases (reference-spec §2.7), its loss parts, label smoothing and its errors.
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import { assertAllClose, backendsUnderTest, useBackend } from '../../test/helpers.js';
import { YOLOV4_ANCHORS, YOLOV4_ANCHORS_MASK } from './anchors.js';
import { YoloLoss, type YoloLossOptions } from './loss.js';

const C = 3;
const D = 5 + C;
const SIZE = 128; // grids 4×4, 8×8, 16×16
const GRIDS = [4, 8, 16];
const BASE: YoloLossOptions = { inputShape: [SIZE, SIZE], numClasses: C, anchors: YOLOV4_ANCHORS, anchorsMask: YOLOV4_ANCHORS_MASK };
const OBJ_RATIO = (5 * SIZE * SIZE) / 416 ** 2;
const BALANCE = [0.4, 1, 4];

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Raw head outputs for a batch, uniform in [−range/2, range/2) (seeded). */
function randomRaws(batch: number, seed: number, range = 4): tf.Tensor4D[] {
  const r = seeded(seed);
  return GRIDS.map((g) => tf.tensor4d(Float32Array.from({ length: batch * g * g * 3 * D }, () => range * r()), [batch, g, g, 3 * D]));
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('YoloLoss hand-built cases', async () => {
  const backends = await backendsUnderTest();
  for (const backend of backends) {
    describe(backend, () => {
      before(() => useBackend(backend));

      it('a box exactly on its anchor, predicted exactly, has zero box loss and one positive', () => {
        // anchor 4 (76×55 px) → level 1 (8×8 at 128 px), slot 1; centre (0.5625, 0.4375) → column ⌊4.5⌋ = 4, row ⌊3.5⌋ = 3
        const targets = [new Float32Array([0.5625, 0.4375, 76 / SIZE, 55 / SIZE, 2])];
        const raws = GRIDS.map((g) => tf.zeros([1, g, g, 3 * D]) as tf.Tensor4D); // σ(0) = 0.5 = centre offset, e^0 = anchor size
        const { loss, parts } = new YoloLoss(BASE).total(raws, targets);
        assert.equal(parts.numPositives, 1);
        assert.deepEqual(parts.levels.map((p) => p.numPositives), [0, 1, 0]);
        assert.ok(Math.abs(parts.levels[1].box) < 1e-7, `box term ${parts.levels[1].box} for a perfect prediction`);
        // every probability is 0.5: each BCE element is ln 2, class term C/80 · ln 2, objectness balance·ratio·ln 2
        assertAllClose([parts.levels[1].cls], [(C / 80) * Math.LN2], { rtol: 1e-5 });
        const objectness = BALANCE.reduce((s, b) => s + b * OBJ_RATIO * Math.LN2, 0);
        assertAllClose([loss.dataSync()[0]], [objectness + (C / 80) * Math.LN2], { rtol: 1e-5 });
      });

      it('focal with γ = 0, α = 0.5 equals BCE × 0.5 × 10 for the objectness term, and its gradient', () => {
        const raws = randomRaws(2, 7);
        const targets = [new Float32Array([0.3, 0.6, 0.4, 0.3, 1, 0.7, 0.2, 0.1, 0.15, 0]), new Float32Array(0)];
        const bce = new YoloLoss(BASE);
        const focal = new YoloLoss({ ...BASE, focalLoss: true, focalAlpha: 0.5, focalGamma: 0 });
        const a = bce.total(raws, targets).parts;
        const b = focal.total(raws, targets).parts;
        assertAllClose([b.objPositive, b.objNegative], [5 * a.objPositive, 5 * a.objNegative], { rtol: 1e-5 });
        assertAllClose([b.box, b.cls], [a.box, a.cls], { rtol: 1e-6 });
        // d(focal)/d(raw) = d(bce)/d(raw) + 4 · d(bce objectness)/d(raw): the non-objectness channels agree
        const grads = (loss: YoloLoss) => tf.grads((...r: tf.Tensor[]) => loss.total(r as tf.Tensor4D[], targets).loss)(raws).map((g) => g.dataSync());
        const gb = grads(bce);
        const gf = grads(focal);
        gb.forEach((g, l) => {
          const obj = Array.from(g).filter((_, e) => e % D === 4);
          const rest = Array.from(g).filter((_, e) => e % D !== 4);
          const focalObj = Array.from(gf[l]).filter((_, e) => e % D === 4);
          const focalRest = Array.from(gf[l]).filter((_, e) => e % D !== 4);
          assertAllClose(focalObj, obj.map((v) => 5 * v), { rtol: 1e-5, atol: 1e-9, what: `level ${l} objectness gradient` });
          assertAllClose(focalRest, rest, { rtol: 1e-5, atol: 1e-9, what: `level ${l} other gradients` });
        });
      });

      it('an image without objects gives only negative objectness loss, mean BCE over every cell', () => {
        const raws = randomRaws(2, 11);
        const targets = [new Float32Array(0), new Float32Array(0)];
        const { loss, parts } = new YoloLoss(BASE).total(raws, targets);
        assert.deepEqual([parts.box, parts.cls, parts.objPositive, parts.numPositives, parts.numIgnored], [0, 0, 0, 0, 0]);
        // independent truth: the objectness channel read straight from the raw values
        const expected = raws.reduce((sum, raw, l) => {
          const v = raw.dataSync();
          let s = 0;
          let n = 0;
          for (let e = 4; e < v.length; e += D, n++) s += -Math.log(1 - sigmoid(v[e]));
          return sum + (s / n) * BALANCE[l] * OBJ_RATIO;
        }, 0);
        assertAllClose([loss.dataSync()[0], parts.objNegative], [expected, expected], { rtol: 1e-5 });
        // the gradient reaches only the objectness channel: σ(x)/n · balance · ratio
        const g = tf.grad((r: tf.Tensor) => new YoloLoss(BASE).level(2, r as tf.Tensor4D, targets))(raws[2]).dataSync();
        const v = raws[2].dataSync();
        const n = v.length / D;
        const expectedGrad = Array.from(v, (x, e) => (e % D === 4 ? (sigmoid(x) / n) * BALANCE[2] * OBJ_RATIO : 0));
        assertAllClose(g, expectedGrad, { rtol: 1e-4, atol: 1e-10 });
      });

      it('loss parts add up to the loss and the easy-negative share is the p < 0.1 part of the objectness term', () => {
        const raws = randomRaws(2, 3, 8); // p from σ(−4) to σ(4): some negatives are easy
        const targets = [new Float32Array([0.5, 0.5, 0.3, 0.4, 0, 0.2, 0.8, 0.05, 0.05, 2]), new Float32Array([0.6, 0.3, 0.7, 0.5, 1])];
        const { loss, parts } = new YoloLoss({ ...BASE, focalLoss: true }).total(raws, targets);
        assertAllClose([parts.box + parts.cls + parts.objPositive + parts.objNegative], [loss.dataSync()[0]], { rtol: 1e-5 });
        assert.equal(parts.levels.length, 3);
        assert.ok(parts.numPositives >= 2 && parts.numPositives <= 3);
        assert.ok(parts.easyNegativeShare > 0 && parts.easyNegativeShare < 1, `easy share ${parts.easyNegativeShare}`);
        // all objectness logits at −5 (p ≈ 0.0067): with no objects every negative is easy
        const confident = GRIDS.map((g) => tf.fill([1, g, g, 3 * D], -5) as tf.Tensor4D);
        const none = new YoloLoss(BASE).total(confident, [new Float32Array(0)]).parts;
        assert.equal(none.easyNegativeShare, 1);
      });

      it('leaves no tensors behind: only the loss (and the gradients) survive a step', () => {
        const raws = randomRaws(2, 13);
        const targets = [new Float32Array([0.4, 0.4, 0.3, 0.2, 1]), new Float32Array(0)];
        const yolo = new YoloLoss({ ...BASE, focalLoss: true });
        const step = tf.valueAndGrads((...r: tf.Tensor[]) => yolo.total(r as tf.Tensor4D[], targets).loss);
        tf.dispose(Object.values(step(raws)).flat());
        const before = tf.memory().numTensors;
        const { value, grads } = step(raws);
        assert.equal(tf.memory().numTensors, before + 1 + grads.length);
        tf.dispose([value, ...grads]);
        const { loss } = yolo.total(raws, targets);
        assert.equal(tf.memory().numTensors, before + 1);
        loss.dispose();
        tf.dispose(raws);
      });

      it('an upstream factor scales the gradient (the loss inside a larger expression)', () => {
        const raws = randomRaws(2, 17);
        const targets = [new Float32Array([0.4, 0.4, 0.3, 0.2, 1]), new Float32Array([0.7, 0.2, 0.1, 0.3, 2])];
        const yolo = new YoloLoss({ ...BASE, iouType: 'siou' });
        const plain = tf.grads((...r: tf.Tensor[]) => yolo.total(r as tf.Tensor4D[], targets).loss)(raws);
        const tripled = tf.grads((...r: tf.Tensor[]) => tf.mul(3, yolo.total(r as tf.Tensor4D[], targets).loss))(raws);
        plain.forEach((g, l) => {
          const expected = Array.from(g.dataSync(), (v) => 3 * v);
          assert.ok(expected.some((v) => v !== 0), `level ${l}: zero gradient`);
          assertAllClose(tripled[l].dataSync(), expected, { rtol: 1e-6, atol: 1e-12, what: `level ${l}` });
        });
        tf.dispose([...plain, ...tripled, ...raws]);
      });

      it('label smoothing works (the reference ignores it): class BCE against y·(1 − ε) + ε/C', () => {
        const raws = randomRaws(1, 5);
        const targets = [new Float32Array([0.5625, 0.4375, 76 / SIZE, 55 / SIZE, 2])]; // one positive, level 1
        const eps = 0.1;
        const smooth = new YoloLoss({ ...BASE, labelSmoothing: eps }).total(raws, targets).parts;
        const plain = new YoloLoss(BASE).total(raws, targets).parts;
        // the positive: level 1, row 3, column 4, slot 1
        const v = raws[1].dataSync();
        const o = ((3 * 8 + 4) * 3 + 1) * D;
        const cls = (y: number[]) => y.reduce((s, t, c) => {
          const p = sigmoid(v[o + 5 + c]);
          return s - t * Math.log(p) - (1 - t) * Math.log(1 - p);
        }, 0) / C * (C / 80);
        assertAllClose([plain.cls], [cls([0, 0, 1])], { rtol: 1e-5 });
        assertAllClose([smooth.cls], [cls([eps / C, eps / C, 1 - eps + eps / C])], { rtol: 1e-5 });
        assert.notEqual(smooth.cls, plain.cls);
      });
    });
  }
});

describe('YoloLoss errors', () => {
  const raws = GRIDS.map((g) => tf.zeros([1, g, g, 3 * D]) as tf.Tensor4D);
  const loss = new YoloLoss(BASE);
  const row = (...v: number[]) => [new Float32Array(v)];
  it('names the bad target value and the fix', () => {
    assert.throws(() => loss.total(raws, row(0.5, 0.5, 0.2, 0.2, 3)), /targets\[0\] row 0 = \[0.5, 0.5, 0.2, 0.2, 3\] has class 3, outside 0…2/);
    assert.throws(() => loss.total(raws, row(0.5, 0.5, 0.2, 0.2, 1.5)), /has class 1.5, outside 0…2/);
    assert.throws(() => loss.total(raws, row(1.5, 0.5, 0.2, 0.2, 0)), /has its centre outside 0..1; boxes must be normalised/);
    assert.throws(() => loss.total(raws, row(0.5, 0.5, 0, 0.2, 0)), /has w or h outside \(0, 1\]/);
    assert.throws(() => loss.total(raws, row(0.5, 0.5, 0.2, 200, 0)), /has w or h outside \(0, 1\]/);
    assert.throws(() => loss.total(raws, [new Float32Array(4)]), /targets\[0\] must be a Float32Array of rows \[cx, cy, w, h, class\] \(length a multiple of 5\), got length 4/);
    assert.throws(() => loss.total(raws, []), /targets has 0 entries for a batch of 1/);
  });
  it('names a raw tensor of the wrong shape', () => {
    const wrongChannels = [raws[0], raws[1], tf.zeros([1, 16, 16, 3 * (5 + 20)]) as tf.Tensor4D];
    assert.throws(() => loss.total(wrongChannels, [new Float32Array(0)]), /level 2 raw output has 75 channels but 3 anchors × \(5 \+ 3 classes\) = 24; check numClasses/);
    assert.throws(() => loss.level(0, raws[1], [new Float32Array(0)]), /level 0 raw output has grid 8×8 but inputShape \[128, 128\] at stride 32 gives 4×4/);
    assert.throws(() => loss.total(raws.slice(0, 2), [new Float32Array(0)]), /got 2 head outputs but anchorsMask has 3 levels/);
    assert.throws(() => loss.level(3, raws[0], [new Float32Array(0)]), /level 3 does not exist; use 0…2/);
    assert.throws(() => loss.total([raws[0], raws[1], tf.zeros([2, 16, 16, 3 * D]) as tf.Tensor4D], [new Float32Array(0)]), /level 2 has batch 2 but level 0 has 1/);
  });
  it('names bad options', () => {
    assert.throws(() => new YoloLoss({ ...BASE, inputShape: [416, 400] }), /inputShape = \[416,400\] is invalid; use \[height, width\], positive multiples of 32/);
    assert.throws(() => new YoloLoss({ ...BASE, numClasses: 0 }), /numClasses = 0 is invalid/);
    assert.throws(() => new YoloLoss({ ...BASE, anchorsMask: [[6, 7, 9]] }), /anchorsMask = \[\[6,7,9\]\] is invalid/);
    assert.throws(() => new YoloLoss({ ...BASE, focalAlpha: 1.5 }), /focalAlpha = 1.5 is invalid/);
    assert.throws(() => new YoloLoss({ ...BASE, labelSmoothing: 1 }), /labelSmoothing = 1 is invalid/);
    assert.throws(() => new YoloLoss({ ...BASE, iouType: 'eiou' as 'ciou' }), /iouType = "eiou" is invalid/);
  });
});
