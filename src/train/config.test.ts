import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultTrainConfig, loadTrainConfig } from './config.js';

test('defaults are the reference train.py values, with the tiny differences (§4.1)', () => {
  const v4 = defaultTrainConfig('yolov4');
  assert.equal(v4.freezeTrain, true);
  assert.equal(v4.freezeEpochs, 50);
  assert.equal(v4.freezeBatchSize, 8);
  assert.equal(v4.batchSize, 4);
  assert.equal(v4.epochs, 300);
  assert.equal(v4.mosaic, true);
  assert.equal(v4.momentum, 0.937);
  assert.equal(v4.weightDecay, 5e-4);
  assert.deepEqual(v4.inputShape, [416, 416]);
  const tiny = defaultTrainConfig('yolov4-tiny');
  assert.equal(tiny.freezeTrain, false);
  assert.equal(tiny.freezeBatchSize, 32);
  assert.equal(tiny.batchSize, 16);
  assert.equal(tiny.mosaic, false);
  assert.equal(tiny.mixup, false);
});

test('YAML then overrides, with types coerced from CLI strings; minLr follows lr', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fy-cfg-'));
  const file = join(dir, 'train.yaml');
  writeFileSync(file, 'data: data.yaml\nvariant: yolov4\nepochs: 20\nlr: 0.001\noptimizer: adam\ninputShape: 320\n');
  const c = loadTrainConfig({ file, overrides: { epochs: '30', focalLoss: 'true', focalGamma: '1.5' } });
  assert.equal(c.variant, 'yolov4');
  assert.equal(c.epochs, 30);
  assert.equal(c.optimizer, 'adam');
  assert.equal(c.focalLoss, true);
  assert.equal(c.focalGamma, 1.5);
  assert.deepEqual(c.inputShape, [320, 320]);
  assert.ok(Math.abs(c.minLr - 1e-5) < 1e-12);
  assert.equal(c.batchSize, 4);
});

test('bad options are one-line errors naming the option and the fix', () => {
  const base = { data: 'd.yaml' };
  assert.throws(() => loadTrainConfig({ overrides: { ...base, epoch: 3 } }), /unknown option 'epoch'; valid options: data, variant/);
  assert.throws(() => loadTrainConfig({ overrides: { ...base, focal_loss: true } }), /unknown option 'focal_loss'; did you mean 'focalLoss'\?/);
  assert.throws(() => loadTrainConfig({ overrides: { ...base, inputShape: 400 } }), /'inputShape' = 400 must be a multiple of 32/);
  assert.throws(() => loadTrainConfig({ overrides: { ...base, optimizer: 'rmsprop' } }), /'optimizer' = "rmsprop" must be one of sgd, adam, adamw/);
  assert.throws(() => loadTrainConfig({ overrides: { ...base, batchSize: 1 } }), /batch sizes must be ≥ 2/);
  assert.throws(() => loadTrainConfig({ overrides: { ...base, focalAlpha: 1.5 } }), /'focalAlpha' = 1.5 must be in \[0, 1\]/);
  assert.throws(() => loadTrainConfig({ overrides: { ...base, epochs: 'ten' } }), /'epochs' = "ten" must be an integer/);
  assert.throws(() => loadTrainConfig({ overrides: {} }), /'data' \(the dataset YAML\) is required/);
  assert.throws(() => loadTrainConfig({ file: '/nonexistent/train.yaml' }), /training config \/nonexistent\/train\.yaml cannot be read/);
});
