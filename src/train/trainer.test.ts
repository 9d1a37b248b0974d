import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { backendsUnderTest, useBackend } from '../../test/helpers.js';
import { synthesizeDataset } from '../data/index.js';
import { createYolo, loadCheckpoint } from '../models/index.js';
import { loadTrainConfig, type TrainConfig } from './config.js';
import type { TrainCallback } from './context.js';
import type { TrainHistory } from './history.js';
import { NonFiniteLossError, parameterGroups, resumeTraining, train } from './trainer.js';

// Training needs a backend with fast convolution gradients: the suite's first backend other than cpu
// (torch or wasm); tfjs's plain-JS cpu backend takes minutes per YOLOv4-tiny step, so even when the suite
// is pinned to cpu these tests run on wasm.
let root = '';
let yaml = '';

before(async () => {
  await useBackend((await backendsUnderTest()).find((b) => b !== 'cpu') ?? 'wasm');
  root = mkdtempSync(join(tmpdir(), 'fy-train-'));
  // 12 images of 64×64 with 1–2 shapes of 3 classes: 8 train (2 batches of 4), 4 val
  ({ yaml } = await synthesizeDataset({ out: join(root, 'data'), images: 12, classes: 3, size: 64, seed: 3, valFraction: 1 / 3, maxObjects: 2, imageFormat: 'png' }));
});

after(() => rmSync(root, { recursive: true, force: true }));

function config(name: string, overrides: Record<string, unknown>): TrainConfig {
  return loadTrainConfig({
    overrides: {
      data: yaml, variant: 'yolov4-tiny', inputShape: 64, batchSize: 4, epochs: 3, workers: 0, saveDir: join(root, 'runs'), name,
      evalPeriod: 0, savePeriod: 100, seed: 5, ...overrides,
    },
  });
}

const quiet = { quiet: true, plot: false, log: () => undefined };

/** The weight bytes of a checkpoint folder (all shards, in order). */
function weightBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).filter((f) => f.endsWith('.bin') && f.startsWith('group')).sort().map((f) => readFileSync(join(dir, f))));
}

for (const focalLoss of [false, true]) {
  test(`a short run lowers the training loss well below its start (${focalLoss ? 'focal' : 'BCE'} objectness)`, async () => {
    // 6 epochs of 4 steps (batch 2); SGD at the clamp's maximum rate 0.05 (lr 3.2 · 2/64)
    const result = await train(config(`fall-${focalLoss}`, { epochs: 6, batchSize: 2, optimizer: 'sgd', lr: 3.2, focalLoss }), quiet);
    assert.equal(result.status, 'completed');
    const losses = result.history.epochs.map((e) => e.train.loss);
    assert.equal(losses.length, 6);
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(Math.abs(result.history.epochs[0].lr - 0.005) < 1e-12, 'warm-up starts at a tenth of the fitted rate (§4.4)');
    console.log(`  ${focalLoss ? "focal" : "BCE"} epoch losses: ${losses.map((l) => l.toFixed(3)).join(" → ")}`);
    assert.ok(losses[5] < 0.6 * losses[0], `epoch losses ${losses.map((l) => l.toFixed(3)).join(' → ')} did not fall below 0.6 × the first`);
    // every epoch records its parts, and the validation pass ran
    for (const e of result.history.epochs) {
      assert.ok(e.val !== null && Number.isFinite(e.val.loss));
      assert.ok(Math.abs(e.train.box + e.train.objPositive + e.train.objNegative + e.train.cls - e.train.loss) < 1e-3 * e.train.loss);
    }
  });
}

test('train 3 epochs = train 2, stop mid-epoch 3, resume: the same weights, history and files', async () => {
  const common = { epochs: 3, optimizer: 'sgd', lr: 0.05, ema: true, evalPeriod: 2, savePeriod: 2 };
  const full = await train(config('full', common), quiet);
  assert.equal(full.status, 'completed');

  // stop after the first step of the third epoch, as Ctrl-C would
  const stopper: TrainCallback = {
    onStep(ctx, s) {
      if (ctx.epoch === 2 && s.epochStep === 0) ctx.stopReason = 'test stop';
    },
  };
  const cut = await train(config('cut', common), { ...quiet, callbacks: [stopper] });
  assert.equal(cut.status, 'interrupted');
  assert.equal(cut.epochsDone, 2);
  assert.ok(existsSync(join(cut.runDir, 'weights', 'interrupted', 'model.json')), 'the unfinished epoch is saved apart');
  const resumed = await resumeTraining(cut.runDir, quiet);
  assert.equal(resumed.status, 'completed');
  assert.equal(resumed.runDir, cut.runDir);

  const a = weightBytes(join(full.runDir, 'weights', 'last'));
  const b = weightBytes(join(cut.runDir, 'weights', 'last'));
  assert.ok(a.length > 0 && a.equals(b), 'resumed weights differ from the uninterrupted run');
  assert.deepEqual(resumed.history.epochs.map((e) => [e.train.loss, e.val?.loss, e.map, e.lr]), full.history.epochs.map((e) => [e.train.loss, e.val?.loss, e.map, e.lr]));

  // files: best (mAP evaluated at epochs 2 and 3), periodic ep002-…, history with p_t histograms at the end
  const weights = readdirSync(join(full.runDir, 'weights'));
  assert.ok(weights.includes('best') && weights.includes('last'), weights.join(' '));
  assert.equal(weights.filter((w) => /^ep00[23]-loss\d+\.\d{3}-val_loss\d+\.\d{3}$/.test(w)).length, 2, weights.join(' '));
  const history = JSON.parse(readFileSync(join(cut.runDir, 'history.json'), 'utf8')) as TrainHistory;
  assert.deepEqual(history.epochs.map((e) => e.map !== null), [false, true, true]);
  assert.ok(history.pt !== null && history.pt.positives.counts.reduce((s, c) => s + c, 0) > 0 && history.pt.negatives.counts.length === 20);
  const csv = readFileSync(join(cut.runDir, 'history.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 4);
  // the best checkpoint loads as a plain model checkpoint with the dataset's class names
  const { model, meta } = await loadCheckpoint(join(full.runDir, 'weights', 'best'));
  assert.deepEqual(meta.classNames, ['circle', 'square', 'triangle']);
  model.dispose();
});

test('a NaN loss stops training naming the step and the part, and keeps the last good checkpoint', async () => {
  const poison: TrainCallback = {
    onEpochEnd(ctx) {
      // every weight NaN after epoch 1: the next step's loss is NaN
      for (const p of ctx.model.params) ctx.model.writeParam(p.key, new Float32Array(ctx.model.variable(p.key).size).fill(NaN));
    },
  };
  const c = config('nan', { epochs: 2 });
  await assert.rejects(train(c, { ...quiet, callbacks: [poison] }), (err: Error) => {
    assert.ok(err instanceof NonFiniteLossError, String(err));
    // the loss part that turns NaN first depends on the backend (wasm clamps NaN probabilities): else the gradient
    assert.match(err.message, /the ((box|objPositive|objNegative|cls) loss|gradient norm) is NaN at epoch 2, step 3;/);
    return true;
  });
  const last = await loadCheckpoint(join(root, 'runs', 'nan', 'weights', 'last'));
  const sidecar = last.meta.training as { epoch: number };
  assert.equal(sidecar.epoch, 1);
  assert.ok(Number.isFinite(last.model.readParam(last.model.params[0].key)[0]), 'the last checkpoint holds the epoch-1 weights, not NaN');
  last.model.dispose();
});

test('freeze phase (§4.5): frozen backbone kernels, updating BN statistics, then unfreeze with the new batch size and rate', async () => {
  const snapshot = new Map<string, Float32Array>();
  const keys = { kernel: '', runningMean: '', head: '' };
  const watch: TrainCallback = {
    onTrainStart(ctx) {
      const prefix = ctx.model.graph.backbonePrefix;
      keys.kernel = ctx.model.params.find((p) => p.key.startsWith(prefix) && p.role === 'kernel')!.key;
      keys.runningMean = ctx.model.params.find((p) => p.key.startsWith(prefix) && p.role === 'movingMean')!.key;
      keys.head = ctx.model.params.find((p) => !p.key.startsWith(prefix) && p.role === 'kernel')!.key;
      for (const key of Object.values(keys)) snapshot.set(key, Float32Array.from(ctx.model.readParam(key)));
    },
    onEpochEnd(ctx, record) {
      const changed = (key: string) => ctx.model.readParam(key).some((v, i) => v !== snapshot.get(key)![i]);
      if (record.epoch === 1) {
        assert.equal(changed(keys.kernel), false, 'a frozen backbone kernel moved');
        assert.equal(changed(keys.runningMean), true, 'frozen backbone BN statistics keep updating (quirk 11)');
        assert.equal(changed(keys.head), true, 'the head trains while the backbone is frozen');
      } else {
        assert.equal(changed(keys.kernel), true, 'the backbone trains after unfreezing');
      }
    },
  };
  const c = config('freeze', { epochs: 2, freezeTrain: true, freezeEpochs: 1, freezeBatchSize: 4, batchSize: 2, optimizer: 'sgd', lr: 0.01 });
  const r = await train(c, { ...quiet, callbacks: [watch] });
  const [e1, e2] = r.history.epochs;
  assert.deepEqual([e1.batchSize, e1.backboneFrozen, e2.batchSize, e2.backboneFrozen], [4, true, 2, false]);
  // frozen: 4/64 · 0.01 = 6.25e-4, warm start 0.1 · that; unfrozen: 2/64 · 0.01 clamped up to 5e-4, end of the 1-epoch warm-up
  assert.ok(Math.abs(e1.lr - 6.25e-5) < 1e-15 && Math.abs(e2.lr - 5e-4) < 1e-15, `lr ${e1.lr}, ${e2.lr}`);
  assert.deepEqual([e1.step, e2.step], [2, 6], '8 images: 2 steps at batch 4, then 4 at batch 2');
});

test('parameter groups (§4.3): BN γ, conv weights with decay, biases and BN β; AdamW keeps 0.01 on the others', () => {
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 3, inputShape: [64, 64], seed: 1 });
  try {
    const roleOf = new Map(model.params.map((p) => [model.variable(p.key).name, p.role]));
    const sgd = parameterGroups(model, { optimizer: 'sgd', weightDecay: 5e-4 });
    assert.deepEqual(sgd.map((g) => g.weightDecay), [0, 5e-4, 0]);
    assert.deepEqual(sgd.map((g) => [...new Set(g.params.map((v) => roleOf.get(v.name)))].sort()), [['gamma'], ['kernel'], ['beta', 'bias']]);
    const grouped = sgd.reduce((n, g) => n + g.params.length, 0);
    assert.equal(grouped, model.params.filter((p) => p.trainable).length, 'every trainable parameter in exactly one group, no BN statistics');
    assert.deepEqual(parameterGroups(model, { optimizer: 'adamw', weightDecay: 0 }).map((g) => g.weightDecay), [0.01, 0, 0.01]);
  } finally {
    model.dispose();
  }
});
