import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { synthesizeDataset } from '../src/data/index.js';
import { goldenPath, REPO_ROOT } from './helpers.js';

const BIN = join(REPO_ROOT, 'bin', 'focal-yolo.js');
const WEIGHTS = goldenPath('yolov4-tiny-3cls-160', 'model.weights');
const MODEL = ['--variant', 'yolov4-tiny', '--size', '160'];
let dir = '';
let yaml = '';

function cli(...args: string[]) {
  const backend = process.env.FOCAL_YOLO_BACKEND ? ['--backend', process.env.FOCAL_YOLO_BACKEND] : [];
  return spawnSync(process.execPath, [BIN, ...backend, ...args], { encoding: 'utf8', cwd: dir });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'focal-yolo-infer-cli-'));
  ({ yaml } = await synthesizeDataset({ out: join(dir, 'data'), images: 10, classes: 3, size: 160, seed: 3, valFraction: 0.3 }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('predict: a folder of images → one drawn PNG and one JSON each, boxes in image pixels', () => {
  const images = join(dir, 'data', 'images', 'val');
  const r = cli('predict', WEIGHTS, images, ...MODEL, '--names', 'a,b,c', '--conf', '0.3', '--json', '--out', 'pred');
  assert.equal(r.status, 0, r.stderr);
  const inputs = readdirSync(images).sort();
  const outputs = readdirSync(join(dir, 'pred')).sort();
  assert.deepEqual(outputs, inputs.flatMap((f) => [f.replace(/\.jpg$/, '.json'), f.replace(/\.jpg$/, '.png')]).sort());
  const json = JSON.parse(readFileSync(join(dir, 'pred', outputs[0]), 'utf8')) as { detections: { box: number[]; className: string; score: number }[] };
  assert.ok(json.detections.length > 0, 'the golden weights at confidence 0.3 detect something');
  for (const d of json.detections) {
    assert.ok(['a', 'b', 'c'].includes(d.className));
    assert.ok(d.score >= 0.3 && d.score <= 1);
    assert.equal(d.box.length, 4);
  }
  assert.match(r.stdout, /images, \d+ objects in/);
});

test('predict: a pattern selects images; bad arguments are one-line errors', async () => {
  await sharp({ create: { width: 50, height: 40, channels: 3, background: '#336699' } }).png().toFile(join(dir, 'one.png'));
  const r = cli('predict', WEIGHTS, join(dir, '*.png'), ...MODEL, '--classes', '3', '--out', 'pat');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'pat', 'one.png')));
  const noVariant = cli('predict', WEIGHTS, join(dir, 'one.png'), '--classes', '3');
  assert.match(noVariant.stderr, /Darknet weights need --variant/);
  assert.equal(noVariant.stderr.trim().split('\n').length, 1);
});

test('eval: per-class table for VOC and COCO, PR-curve PNGs and metrics.json', () => {
  const r = cli('eval', WEIGHTS, yaml, ...MODEL, '--out', 'ev');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /mAP@0.5 = \d+\.\d\d%/);
  assert.match(r.stdout, /AP50 /);
  const m = JSON.parse(readFileSync(join(dir, 'ev', 'metrics.json'), 'utf8')) as Record<string, { map: number | null; perClass: (number | null)[] }>;
  for (const key of ['voc', 'coco']) {
    assert.equal(m[key].perClass.length, 3);
    assert.ok(m[key].map === null || (m[key].map >= 0 && m[key].map <= 1), `${key} map ${m[key].map}`);
  }
  assert.ok(existsSync(join(dir, 'ev', 'voc', 'pr_curves.png')));
  assert.ok(existsSync(join(dir, 'ev', 'coco', 'pr_curves.png')));
});

test('anchors and fps: print anchors with the mean IoU, and stage timings', () => {
  const a = cli('anchors', yaml, '--k', '4', '--size', '320', '--out', 'anchors.txt');
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /mean best IoU: 0\.\d{4}/);
  const line = readFileSync(join(dir, 'anchors.txt'), 'utf8');
  assert.match(line, /^\d+,\d+(, \d+,\d+){3}$/);
  const f = cli('fps', WEIGHTS, ...MODEL, '--classes', '3', '--runs', '1');
  assert.equal(f.status, 0, f.stderr);
  for (const stage of ['pre-processing', 'network', 'decode', 'NMS']) assert.match(f.stdout, new RegExp(`${stage} +\\d+\\.\\d\\d ms/image`));
  assert.match(f.stdout, /images\/s/);
});
