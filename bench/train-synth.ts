/**
 * `npm run bench -- train-synth`: YOLOv4-tiny from scratch on a synthetic shapes set (3 classes,
 * 600 train / 150 val images at 224 px), once with BCE and once with focal objectness, same options
 * and budget. Reports val mAP@0.5 (VOC) and wall time per epoch for each, and the time of one training
 * step against the same step in PyTorch (bench/train_synth.py) as a ratio.
 *
 * Flags: --train 600 --val 150 --size 224 --classes 3 --epochs 12 --batch 16 --eval-period 3
 *        --optimizer sgd --lr 0.2 --minutes 30 (wall-clock budget per loss; the run stops after it)
 * The defaults fit the budget on the torch backend (≈ 2.5 min per epoch measured): 12 epochs so the
 * cosine schedule completes, and lr 0.2 so the batch-scaled SGD rate sits at its 0.05 clamp (the
 * reference's 0.01 gives 2.5e-3 at batch 16, far too slow for a 30-minute run from scratch).
 *        --backend <name> --workers 2 --repeats 3 (PyTorch steps) --threads 1 (PyTorch threads; our wasm is single-threaded)
 * A quick check that it works: --train 16 --val 8 --size 64 --epochs 2 --batch 4 --eval-period 1
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../src/backend/index.js';
import { synthesizeDataset } from '../src/data/index.js';
import { createRandom } from '../src/data/rng.js';
import { loadTrainConfig, train, type TrainCallback, type TrainResult } from '../src/train/index.js';
import { printTable, runPython, writeResult } from './harness.js';

interface TorchStep {
  torch: string;
  threads: number;
  bce: { median_ms: number; min_ms: number; loss: number };
  focal: { median_ms: number; min_ms: number; loss: number };
  network: { median_ms: number; min_ms: number; loss: number };
}

/** Stops a run once `minutes` of wall-clock time have passed (checked after every step). */
function budget(minutes: number): TrainCallback {
  const start = performance.now();
  return {
    onStep(ctx) {
      if (performance.now() - start > minutes * 60_000) ctx.stopReason = `time budget of ${minutes} min`;
    },
  };
}

/** Random targets like the synthetic set's (1–3 boxes per image), for the PyTorch step. */
function randomTargets(batch: number, classes: number): number[][] {
  const rng = createRandom(7);
  return Array.from({ length: batch }, () => {
    const rows: number[] = [];
    const n = 1 + Math.floor(rng.next() * 3);
    for (let i = 0; i < n; i++) {
      rows.push(0.2 + 0.6 * rng.next(), 0.2 + 0.6 * rng.next(), 0.1 + 0.3 * rng.next(), 0.1 + 0.3 * rng.next(), Math.floor(rng.next() * classes));
    }
    return rows;
  });
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const num = (key: string, fallback: number) => (typeof args[key] === 'string' ? Number(args[key]) : fallback);
  const o = {
    train: num('train', 600), val: num('val', 150), size: num('size', 224), classes: num('classes', 3), epochs: num('epochs', 12),
    batch: num('batch', 16), evalPeriod: num('eval-period', 3), lr: num('lr', 0.2), minutes: num('minutes', 30),
    workers: num('workers', 2), repeats: num('repeats', 3), threads: num('threads', 1),
    optimizer: typeof args.optimizer === 'string' ? args.optimizer : 'sgd',
  };
  const backend = await initBackend({ prefer: typeof args.backend === 'string' ? (args.backend as BackendName) : undefined });
  const root = join(tmpdir(), `focal-yolo-bench-train-synth-${process.pid}`);
  mkdirSync(root, { recursive: true });
  try {
    const { yaml } = await synthesizeDataset({
      out: join(root, 'data'), images: o.train + o.val, classes: o.classes, size: o.size, seed: 1, valFraction: o.val / (o.train + o.val),
    });
    const results: Record<string, TrainResult> = {};
    for (const focalLoss of [false, true]) {
      const name = focalLoss ? 'focal' : 'bce';
      const config = loadTrainConfig({
        overrides: {
          data: yaml, variant: 'yolov4-tiny', inputShape: o.size, epochs: o.epochs, batchSize: o.batch, evalPeriod: o.evalPeriod,
          savePeriod: o.epochs, optimizer: o.optimizer, lr: o.lr, focalLoss, workers: o.workers, saveDir: join(root, 'runs'), name, seed: 11,
        },
      });
      console.log(`\n== ${name}: ${o.epochs} epochs at batch ${o.batch}, ${o.size} px, budget ${o.minutes} min, backend ${backend}`);
      results[name] = await train(config, { callbacks: [budget(o.minutes)], plot: false });
    }
    const torch = runPython<TorchStep>('train_synth.py', { batch: o.batch, size: o.size, classes: o.classes, targets: randomTargets(o.batch, o.classes), repeats: o.repeats, threads: o.threads });
    const stepsPerEpoch = Math.floor(o.train / o.batch);
    const rows = (['bce', 'focal'] as const).map((name) => {
      const r = results[name];
      const epochs = r.history.epochs;
      const later = epochs.length > 1 ? epochs.slice(1) : epochs; // the first epoch includes warm-up of the kernels
      const seconds = later.reduce((s, e) => s + e.seconds, 0) / Math.max(1, later.length);
      const valSeconds = later.reduce((s, e) => s + e.valSeconds, 0) / Math.max(1, later.length);
      const stepMs = (1000 * seconds) / stepsPerEpoch;
      const evaluated = epochs.filter((e) => e.map !== null);
      const torchMs = torch?.[name].median_ms;
      return {
        objectness: name, status: r.status, epochs: epochs.length, 'best mAP@0.5': r.best?.map ?? NaN,
        'last mAP@0.5': evaluated.length ? (evaluated[evaluated.length - 1].map as number) : NaN,
        's/epoch': seconds, 'val s/epoch': valSeconds, 'ms/step': stepMs,
        'torch ms/step': torchMs ?? NaN, 'ratio (ours/torch)': torchMs ? stepMs / torchMs : NaN,
        'torch net-only ms/step': torch?.network.median_ms ?? NaN,
      };
    });
    console.log('');
    printTable(rows);
    writeResult('train-synth', {
      command: `npm run bench -- train-synth ${Object.entries(args).map(([k, v]) => (v === true ? `--${k}` : `--${k} ${v}`)).join(' ')}`.trim(),
      options: o, backend, torch: torch ? { version: torch.torch, threads: torch.threads } : null, rows,
      curves: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.history.epochs.map((e) => ({ epoch: e.epoch, loss: e.train.loss, valLoss: e.val?.loss ?? null, map: e.map, seconds: e.seconds }))])),
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
