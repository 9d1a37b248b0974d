// Parity with the reference PyTorch loss (shared/golden/yolo-loss.json): every case, every level,
// loss and gradient with respect to the raw head output, on every backend under test.
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, before } from 'node:test';
import { backendsUnderTest, goldenPath, useBackend } from '../../test/helpers.js';
import { YoloLoss } from './loss.js';
import type { IouType } from '../losses/index.js';

interface GoldenCase {
  name: string;
  config: {
    input_shape: [number, number]; num_classes: number; anchors: [number, number][]; anchors_mask: number[][];
    focal_loss: boolean; focal_alpha: number; focal_gamma: number; iou_type: IouType; label_smoothing: number; batch: number;
  };
  targets: number[][][];
  levels: { grid: [number, number]; pred_nhwc: number[]; loss: number; grad_nhwc: number[] }[];
}

const golden = JSON.parse(readFileSync(goldenPath('yolo-loss.json'), 'utf8')) as { cases: GoldenCase[] };

function lossFor(c: GoldenCase): YoloLoss {
  const k = c.config;
  return new YoloLoss({
    inputShape: k.input_shape, numClasses: k.num_classes, anchors: k.anchors, anchorsMask: k.anchors_mask,
    focalLoss: k.focal_loss, focalAlpha: k.focal_alpha, focalGamma: k.focal_gamma, iouType: k.iou_type,
    labelSmoothing: k.label_smoothing,
  });
}

describe('YoloLoss matches the reference (golden yolo-loss.json)', async () => {
  const backends = await backendsUnderTest();
  it('covers the expected cases', () => {
    assert.ok(golden.cases.length >= 7, `only ${golden.cases.length} golden cases`);
    assert.ok(golden.cases.some((c) => c.name.startsWith('tiny')), 'no YOLOv4-tiny case');
  });
  for (const backend of backends) {
    describe(backend, () => {
      before(() => useBackend(backend));
      for (const c of golden.cases) {
        it(`${c.name}: loss and gradient of every level`, () => {
          const yolo = lossFor(c);
          const targets = c.targets.map((rows) => Float32Array.from(rows.flat()));
          const C = c.config.num_classes;
          let sum = 0;
          const raws: tf.Tensor4D[] = [];
          c.levels.forEach((lv, l) => {
            const [h, w] = lv.grid;
            const raw = tf.tensor4d(lv.pred_nhwc, [c.config.batch, h, w, yolo.options.anchorsMask[l].length * (5 + C)]);
            raws.push(raw);
            const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => yolo.level(l, x as tf.Tensor4D, targets))(raw);
            const loss = value.dataSync()[0];
            const rel = Math.abs(loss - lv.loss) / Math.abs(lv.loss);
            assert.ok(rel < 1e-5, `${c.name} level ${l}: loss ${loss} vs reference ${lv.loss} (rel err ${rel.toExponential(2)})`);
            const g = grad.dataSync();
            let maxRef = 0;
            let maxErr = 0;
            let at = 0;
            for (let e = 0; e < g.length; e++) {
              maxRef = Math.max(maxRef, Math.abs(lv.grad_nhwc[e]));
              const err = Math.abs(g[e] - lv.grad_nhwc[e]);
              if (err > maxErr) [maxErr, at] = [err, e];
            }
            assert.equal(g.length, lv.grad_nhwc.length);
            assert.ok(maxRef > 0, `${c.name} level ${l}: reference gradient is all zero`);
            assert.ok(maxErr < 1e-6 * maxRef,
              `${c.name} level ${l}: gradient[${at}] = ${g[at]} vs reference ${lv.grad_nhwc[at]} (max abs err ${maxErr.toExponential(2)}, ${(maxErr / maxRef).toExponential(2)} of max |grad|)`);
            if (process.env.YOLO_GOLDEN_VERBOSE) console.log(c.name, l, rel.toExponential(2), (maxErr / maxRef).toExponential(2));
            sum += lv.loss;
            tf.dispose([value, grad]);
          });
          // total() is the plain sum of the levels
          const { loss } = yolo.total(raws, targets);
          const total = loss.dataSync()[0];
          assert.ok(Math.abs(total - sum) / sum < 1e-5, `${c.name}: total ${total} vs Σ reference levels ${sum}`);
          tf.dispose([loss, ...raws]);
        });
      }
    });
  }
});
