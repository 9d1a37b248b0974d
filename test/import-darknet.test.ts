import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createYolo, decodeSafetensors, loadCheckpoint, loadDarknetWeights } from '../src/models/index.js';
import { goldenPath, runCliInProcess } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'focal-yolo-import-'));
after(() => rmSync(root, { recursive: true, force: true }));

const cli = (...args: string[]) => runCliInProcess('--backend', 'cpu', ...args);

test('import-darknet writes a checkpoint (and safetensors) holding exactly the file\'s weights', async () => {
  const weights = goldenPath('yolov4-tiny-3cls-160', 'model.weights');
  const out = join(root, 'tiny');
  const st = join(root, 'tiny.safetensors');
  const r = await cli('import-darknet', weights, '--variant', 'yolov4-tiny', '--classes', '3', '--names', 'a,b,c', '--size', '160', '--out', out, '--safetensors', st);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Darknet 0\.2\.5, seen 0, heads for 3 classes/);
  const { model, meta } = await loadCheckpoint(out, { variant: 'yolov4-tiny', numClasses: 3 });
  assert.deepEqual(meta.classNames, ['a', 'b', 'c']);
  assert.deepEqual(meta.inputShape, [160, 160]);
  const direct = createYolo({ variant: 'yolov4-tiny', numClasses: 3, seed: 1 });
  loadDarknetWeights(direct, new Uint8Array(readFileSync(weights)));
  for (const p of direct.params) assert.deepEqual(model.readParam(p.key), direct.readParam(p.key), p.key);
  assert.equal(decodeSafetensors(new Uint8Array(readFileSync(st))).tensors.size, 21 + 5 * 19 + 2); // 21 conv weights, 19 BN × (γ, β, mean, var, num_batches_tracked), 2 head biases
  model.dispose();
  direct.dispose();
});

test('import-darknet refuses a file of the wrong variant and missing options in one line', async () => {
  const weights = goldenPath('yolov4-tiny-3cls-160', 'model.weights');
  const wrong = await cli('import-darknet', weights, '--variant', 'yolov4', '--classes', '3', '--out', join(root, 'x'));
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /^focal-yolo: error: .*model\.weights: 23539796 bytes, expected \d+ bytes for yolov4 with 3 classes/);
  assert.equal(wrong.err.split('\n').length, 1);
  assert.ok(!existsSync(join(root, 'x')));
  const missing = await cli('import-darknet', weights, '--classes', '3');
  assert.match(missing.err, /give --variant yolov4 or --variant yolov4-tiny/);
  const names = await cli('import-darknet', weights, '--variant', 'yolov4-tiny', '--classes', '3', '--names', 'a,b');
  assert.match(names.err, /gives 2 names for --classes 3/);
});
