import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { backendsUnderTest, useBackend } from '../../test/helpers.js';
import { createLoader, readSplit, synthesizeDataset, type Sample } from '../data/index.js';
import type { Yolo } from '../models/index.js';
import { assignTargets, bestAnchors, YoloLoss, YOLOV4_TINY_ANCHORS, YOLOV4_TINY_ANCHORS_MASK, type AssignOptions } from '../yolo/index.js';
import { isEvalEpoch, periodicCheckpointName } from './callbacks.js';
import { histogram, historyCsv, type EpochRecord, type LossSummary } from './history.js';
import { renderHistoryPng } from './plot.js';
import { objectnessPt, validate } from './validate.js';

const C = 3;
const SIZE = 64;
const opts: AssignOptions = { inputShape: [SIZE, SIZE], numClasses: C, anchors: YOLOV4_TINY_ANCHORS, anchorsMask: YOLOV4_TINY_ANCHORS_MASK };
const logit = (p: number) => Math.log(p / (1 - p));

/**
 * The raw head outputs of a perfect detector for `targets`: every positive cell decodes exactly to its
 * ground truth with objectness and class probability σ(8); every other cell has objectness σ(−8).
 */
function perfectRaws(targets: Float32Array[]): Float32Array[] {
  const anchorOf = bestAnchors(targets, opts);
  const D = 5 + C;
  return YOLOV4_TINY_ANCHORS_MASK.map((mask, l) => {
    const H = SIZE / (32 / 2 ** l);
    const A = mask.length;
    const raw = new Float32Array(targets.length * H * H * A * D);
    for (let c = 0; c < raw.length / D; c++) {
      raw[c * D + 4] = -8;
      for (let k = 0; k < C; k++) raw[c * D + 5 + k] = -8;
    }
    const pos = assignTargets(targets, l, [H, H], opts, anchorOf);
    for (let p = 0; p < pos.numPositives; p++) {
      const c = pos.cell[p];
      const [x, y, w, h] = pos.box.subarray(4 * p, 4 * p + 4);
      const anchor = opts.anchors[mask[c % A]];
      raw[c * D] = logit(x - Math.floor(x));
      raw[c * D + 1] = logit(y - Math.floor(y));
      raw[c * D + 2] = Math.log(w / (anchor[0] / (SIZE / H)));
      raw[c * D + 3] = Math.log(h / (anchor[1] / (SIZE / H)));
      raw[c * D + 4] = 8;
      for (let k = 0; k < C; k++) if (pos.classes[p * C + k] > 0) raw[c * D + 5 + k] = 8;
    }
    return raw;
  });
}

let root = '';
let samples: Sample[] = [];

before(async () => {
  await useBackend((await backendsUnderTest()).find((b) => b !== 'cpu') ?? 'wasm');
  root = mkdtempSync(join(tmpdir(), 'fy-validate-'));
  const { yaml } = await synthesizeDataset({ out: join(root, 'data'), images: 6, classes: C, size: 96, seed: 4, valFraction: 0.5, maxObjects: 3, imageFormat: 'png' });
  samples = (await readSplit(yaml, 'val')).samples;
});

after(() => rmSync(root, { recursive: true, force: true }));

test('validate: a perfect detector scores mAP@0.5 = 1 (VOC and COCO AP50), a silent one 0', async () => {
  const loader = createLoader(samples, { inputShape: [SIZE, SIZE], batchSize: 2, train: false, shuffle: false, dropLast: false, workers: 0 });
  const batches: Float32Array[][] = [];
  for await (const b of loader.epoch(0)) batches.push(b.targets);
  assert.ok(batches.flat().some((t) => t.length > 0), 'the val set has boxes');
  const loss = new YoloLoss({ ...opts, inputShape: [SIZE, SIZE] });
  for (const [mode, expected] of [['perfect', 1], ['silent', 0]] as const) {
    let next = 0;
    // a stand-in for the network: the heads of the batch in loader order
    const model = {
      predictRaw(images: tf.Tensor4D): tf.Tensor4D[] {
        const targets = batches[next++];
        const raws = perfectRaws(targets);
        return raws.map((raw, l) => {
          const H = SIZE / (32 / 2 ** l);
          const data = mode === 'perfect' ? raw : raw.map(() => -8);
          return tf.tensor4d(data, [images.shape[0], H, H, 3 * (5 + C)]);
        });
      },
    } as unknown as Yolo;
    for (const metric of ['voc', 'coco'] as const) {
      next = 0;
      const r = await validate(model, loader, loss, 0, { metric });
      assert.ok(Math.abs((r.map as number) - expected) < 1e-9, `${mode} ${metric}: mAP ${r.map}`);
      assert.ok(Number.isFinite(r.loss.loss));
    }
  }
  await loader.close();
});

test('objectnessPt: p for positives and 1 − p for the negatives the loss uses', () => {
  const targets = [new Float32Array([0.5, 0.5, 0.3, 0.3, 1])];
  const raws = perfectRaws(targets);
  const D = 5 + C;
  // a negative at the corner cell of level 0 with p = 0.28 → p_t = 0.72 (bin 14); its anchor box misses the GT
  raws[0][4] = logit(0.28);
  // the positive: the 19×19 px box's best anchor is 1 (23×27), in level 1's mask only; p = 0.62 → bin 12
  const first = assignTargets(targets, 1, [4, 4], opts, bestAnchors(targets, opts)).cell[0];
  raws[1][first * D + 4] = logit(0.62);
  const shapes = raws.map((_, l) => [1, SIZE / (32 / 2 ** l), SIZE / (32 / 2 ** l), 3 * D]);
  const { positives, negatives } = objectnessPt(raws, shapes, targets, opts);
  assert.deepEqual(positives.counts.map((c, i) => [i, c]).filter(([, c]) => c > 0), [[12, 1]]);
  // every other cell is a negative at p_t = 1 − σ(−8) (top bin) unless ignored; the corner one is at 0.72
  assert.equal(negatives.counts[14], 1);
  const cells = 2 * 2 * 3 + 4 * 4 * 3;
  const counted = negatives.counts.reduce((s, c) => s + c, 0);
  assert.equal(negatives.counts[19], counted - 1);
  assert.ok(counted <= cells - 1 && counted > cells / 2, `${counted} negatives of ${cells} cells`);
});

test('history helpers: histogram bins, CSV columns, checkpoint names, evaluation epochs', () => {
  assert.deepEqual(histogram([0, 0.04, 0.05, 0.5, 0.99, 1, NaN, 1.5], 20).counts, [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  const parts: LossSummary = { loss: 1.5, box: 0.5, objPositive: 0.25, objNegative: 0.5, cls: 0.25, positives: 4, easyNegativeShare: 0.75 };
  const record: EpochRecord = {
    epoch: 10, lr: 0.001, batchSize: 8, backboneFrozen: true, train: parts, val: { ...parts, loss: 2 }, map: 0.5, mapCoco: null,
    metric: 'voc', seconds: 12.3456, valSeconds: 1, step: 100,
  };
  const [header, row] = historyCsv([record]).trim().split('\n');
  const cols = header.split(',');
  const cells = row.split(',');
  assert.equal(cols.length, cells.length);
  const at = (name: string) => cells[cols.indexOf(name)];
  assert.equal(at('epoch'), '10');
  assert.equal(at('train_objNegative'), '0.5');
  assert.equal(at('val_loss'), '2');
  assert.equal(at('map50'), '0.5');
  assert.equal(at('map_coco'), '');
  assert.equal(at('seconds'), '12.346');
  assert.equal(periodicCheckpointName(record), 'ep010-loss1.500-val_loss2.000');
  assert.deepEqual([0, 1, 2, 3, 4].map((e) => isEvalEpoch(e, 2, 5)), [false, true, false, true, true]);
  assert.deepEqual([0, 4].map((e) => isEvalEpoch(e, 0, 5)), [false, false]);
});

test('history.png: the four panels render to a PNG of the expected size', async () => {
  const parts = (x: number): LossSummary => ({ loss: x, box: x / 4, objPositive: x / 8, objNegative: x / 2, cls: x / 8, positives: 3, easyNegativeShare: 0.5 });
  const epochs: EpochRecord[] = [1, 2, 3].map((epoch) => ({
    epoch, lr: 1e-3 / epoch, batchSize: 4, backboneFrozen: false, train: parts(3 / epoch), val: parts(3.5 / epoch),
    map: epoch === 2 ? 0.25 : null, mapCoco: null, metric: 'voc', seconds: 1, valSeconds: 0.1, step: epoch * 2,
  }));
  const png = await renderHistoryPng(epochs);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const meta = await sharp(png).metadata();
  // 2 × 2 panels of 320 × 180 plus axes, titles and legends
  assert.ok(meta.width! > 640 && meta.width! < 1400 && meta.height! > 360 && meta.height! < 900, `${meta.width}×${meta.height}`);
});
