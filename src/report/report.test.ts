import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { evaluateDetections } from '../eval/index.js';
import { objectnessSplit, precisionEnvelope } from './charts.js';
import { collectRunReport } from './collect.js';
import { renderValidationGrid } from './grid.js';
import { renderReportHtml } from './html.js';
import type { ReportEpoch, RunReport } from './types.js';
import { writeComparison } from './write.js';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'fy-report-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('objectnessSplit: easy = share · (obj⁺ + obj⁻), hard = obj⁻ − easy (hand-computed)', () => {
  assert.deepEqual(objectnessSplit({ objPositive: 1, objNegative: 3, easyNegativeShare: 0.5 }), { positives: 1, hardNegatives: 1, easyNegatives: 2 });
  assert.deepEqual(objectnessSplit({ objPositive: 2, objNegative: 2, easyNegativeShare: 0 }), { positives: 2, hardNegatives: 2, easyNegatives: 0 });
  // a share that would exceed the negatives (rounding in the history) is capped: no negative hard part
  assert.deepEqual(objectnessSplit({ objPositive: 1, objNegative: 1, easyNegativeShare: 0.6 }), { positives: 1, hardNegatives: 0, easyNegatives: 1 });
});

test('precisionEnvelope: precision non-increasing from the right, starting at recall 0', () => {
  const points = precisionEnvelope({ recall: [0.25, 0.5, 0.75], precision: [1, 0.5, 0.75] });
  assert.deepEqual(points, [
    { recall: 0, precision: 1 },
    { recall: 0.25, precision: 1 },
    { recall: 0.5, precision: 0.75 },
    { recall: 0.75, precision: 0.75 },
  ]);
});

/** A uniform grey PNG of `size`×`size`. */
async function greyImage(path: string, size: number): Promise<void> {
  writeFileSync(path, await sharp({ create: { width: size, height: size, channels: 3, background: '#808080' } }).png().toBuffer());
}

test('renderValidationGrid: tiles at their places, ground truth and predictions drawn on the image', async () => {
  const image = join(root, 'grey.png');
  await greyImage(image, 100);
  const size = 100;
  const jpeg = await renderValidationGrid(
    [
      { image, boxes: [[20, 20, 80, 80]], detections: [] },
      { image, boxes: [], detections: [{ box: [10, 50, 90, 90], score: 0.9, classId: 0, className: 'circle' }] },
      { image, boxes: [], detections: [] },
    ],
    { numClasses: 2, tileSize: size, columns: 2 },
  );
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  // 2 columns × 2 rows of 100 px tiles with 4 px gaps
  assert.equal(info.width, 2 * size + 3 * 4);
  assert.equal(info.height, 2 * size + 3 * 4);
  const px = (x: number, y: number) => Array.from(data.subarray(3 * (y * info.width + x), 3 * (y * info.width + x) + 3));
  const grey = (p: number[]) => p.every((v) => Math.abs(v - 128) < 14);
  // tile 0 (left 4, top 4): the ground-truth box edge at x = 20 is not grey, its centre is
  assert.ok(!grey(px(4 + 20, 4 + 50)), `ground-truth edge ${px(24, 54)}`);
  assert.ok(grey(px(4 + 50, 4 + 50)), `inside the box ${px(54, 54)}`);
  // tile 1 (left 108): the prediction's bottom edge (2 px) in class 0's colour, red (HSV hue 0), blurred a little by JPEG
  const edge = px(108 + 50, 4 + 89);
  assert.ok(edge[0] - edge[1] > 90 && edge[0] - edge[2] > 90, `prediction edge ${edge}`);
  assert.ok(grey(px(108 + 50, 4 + 70)), `inside the prediction ${px(158, 74)}`);
  // tile 2 has nothing drawn; the empty fourth slot is white
  assert.ok(grey(px(4 + 30, 108 + 30)));
  assert.ok(px(108 + 50, 108 + 50).every((v) => v > 240));
  await assert.rejects(renderValidationGrid([], { numClasses: 1 }), /no images given/);
});

function epoch(n: number, loss: number, map: number | null): ReportEpoch {
  const parts = { loss, box: loss / 2, objPositive: loss / 8, objNegative: (3 * loss) / 8, cls: 0, positives: 12, easyNegativeShare: 0.25 };
  return { epoch: n, lr: 1e-3 / n, train: parts, val: { ...parts, loss: loss * 1.1 }, map, metric: 'voc' };
}

async function handMadeRun(label: string, focalLoss: boolean, grid: Uint8Array): Promise<RunReport> {
  // class 0: one box found exactly (AP 1); class 1: two boxes, one found at the top score, one missed (AP 0.5)
  const result = await evaluateDetections({
    groundTruth: [{ boxes: [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], classes: [0, 1, 1] }],
    detections: [{ boxes: [[0, 0, 10, 10], [20, 20, 30, 30]], classes: [0, 1], scores: [0.9, 0.8] }],
    numClasses: 2,
    metric: 'voc',
  });
  return {
    label, runDir: join(root, label), config: { variant: 'yolov4-tiny', focalLoss, lr: 0.001 }, classNames: ['circle', 'square'],
    epochs: [epoch(1, 8, null), epoch(2, 4, 0.25), epoch(3, 2, 0.75)],
    pt: { positives: { edges: [0, 0.5, 1], counts: [1, 3] }, negatives: { edges: [0, 0.5, 1], counts: [10, 90] } },
    evaluation: { weights: join(root, label, 'weights', 'best'), result, images: 1 }, grid, notes: [],
  };
}

test('renderReportHtml: self-contained, every figure drawn, AP table and config from the runs', async () => {
  const image = join(root, 'grey.png');
  await greyImage(image, 64);
  const grid = await renderValidationGrid([{ image, boxes: [[8, 8, 40, 40]], detections: [] }], { numClasses: 2, tileSize: 64 });
  const html = await renderReportHtml([await handMadeRun('focal<1>', true, grid)]);
  // nothing fetched: no script, no external source or stylesheet
  assert.doesNotMatch(html, /<script|<link|src="(?!data:)|url\(/i);
  // every figure is there and holds drawn marks
  for (const id of ['loss', 'lr', 'map', 'objectness-split', 'pt-histogram', 'pr']) {
    const m = new RegExp(`<figure data-figure="${id}">([\\s\\S]*?)</figure>`).exec(html);
    assert.ok(m, `figure ${id} is missing`);
    assert.match(m[1], /<svg[\s\S]*<path/, `figure ${id} has no drawn path`);
  }
  assert.match(html, /<img alt="validation images of focal&lt;1&gt;" src="data:image\/jpeg;base64,[A-Za-z0-9+/]{100,}/);
  // per-class AP 100% and 50%, mean 75%; the label is escaped
  assert.match(html, /<td>circle<\/td><td>1<\/td><td>100\.00%<\/td><td>1<\/td>/);
  assert.match(html, /<td>square<\/td><td>2<\/td><td>50\.00%<\/td><td>1<\/td>/);
  assert.match(html, /<tr class="mean"><td>mean<\/td><td><\/td><td>75\.00%<\/td><td><\/td><\/tr>/);
  assert.doesNotMatch(html, /focal<1>/);
  // summary: best mAP 75% at epoch 3; easy share of objectness at the last epoch = 25%
  assert.match(html, /75\.00% \(epoch 3\)/);
  assert.match(html, /<td>25\.00%<\/td><\/tr>/);
  assert.match(html, /<td>focalLoss<\/td><td>true<\/td>/);
});

test('comparison: both runs in every chart, differing options marked', async () => {
  const image = join(root, 'grey.png');
  const grid = await renderValidationGrid([{ image, boxes: [], detections: [] }], { numClasses: 2, tileSize: 32 });
  const html = await renderReportHtml([await handMadeRun('bce', false, grid), await handMadeRun('focal', true, grid)]);
  assert.match(html, /<title>focal-yolo comparison: bce vs focal<\/title>/);
  assert.match(html, /<tr class="differs"><td>focalLoss<\/td><td>false<\/td><td>true<\/td><\/tr>/);
  assert.match(html, /<tr><td>lr<\/td><td>0\.001<\/td><td>0\.001<\/td><\/tr>/);
  assert.equal(html.match(/data-figure="grid-/g)?.length, 2);
  // the AP table: ground truth, AP and detections per run (their validation sets may differ)
  assert.match(html, /<th>bce: ground truth<\/th><th>bce: AP@0\.5 \(VOC all-point\)<\/th><th>bce: detections<\/th><th>focal: ground truth<\/th>/);
  assert.match(html, /<td>square<\/td><td>2<\/td><td>50\.00%<\/td><td>1<\/td><td>2<\/td><td>50\.00%<\/td><td>1<\/td><\/tr>/);
  // the legends name both runs
  for (const id of ['loss', 'map', 'pr']) {
    const figure = new RegExp(`<figure data-figure="${id}">([\\s\\S]*?)</figure>`).exec(html)?.[1] ?? '';
    assert.match(figure, />bce/, `figure ${id} lacks run bce`);
    assert.match(figure, />focal/, `figure ${id} lacks run focal`);
  }
});

test('a folder that is not a run, or a single run to compare, is a one-line error naming it', async () => {
  const empty = join(root, 'not-a-run');
  mkdirSync(empty);
  await assert.rejects(collectRunReport(empty), (err: Error) => err.message.includes(empty) && err.message.includes('history.json') && !err.message.includes('\n'));
  await assert.rejects(writeComparison([empty], join(root, 'c.html')), /pass two or more/);
});

test('collectRunReport without weights or dataset: history sections only, with a note', async () => {
  const dir = join(root, 'history-only');
  mkdirSync(dir);
  writeFileSync(join(dir, 'history.json'), JSON.stringify({ epochs: [epoch(1, 3, 0.1)], pt: null }));
  const run = await collectRunReport(dir);
  assert.equal(run.evaluation, null);
  assert.equal(run.grid, null);
  assert.equal(run.epochs.length, 1);
  assert.ok(run.notes.some((n) => /no weights/.test(n)), run.notes.join('; '));
  const html = await renderReportHtml([run]);
  assert.match(html, /No p_t histograms/);
  assert.match(html, /<figure data-figure="loss">/);
});
