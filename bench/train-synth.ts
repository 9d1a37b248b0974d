/**
 * `npm run bench -- train-synth`: YOLOv4-tiny from scratch on a synthetic shapes set (3 classes,
 * 600 train / 150 val images at 224 px), once with BCE and once with focal objectness, same recipe
 * and budget. Reports val mAP@0.5 (VOC), optimizer steps and wall time per epoch for each, and the time
 * of one training step against the same step in PyTorch (bench/train_synth.py) as a ratio.
 *
 * By default the two losses train side by side in two child processes with cores/2 libtorch threads
 * each (`--parallel false`: one after the other in this process with every core); the `--minutes 30`
 * budget is per process, so side by side both finish within 30 minutes of wall time.
 *
 * The recipe (docs/training.md says why): Adam at 1e-3 → 1e-5 (rates as the optimizer sees them, i.e.
 * after the reference's batch/64 scaling), no weight decay, warm cosine moved every iteration, batch 8,
 * 16 epochs (1200 steps), no mosaic/mixup (the reference's ordinary augmentation only), the RetinaNet
 * prior on the objectness bias for both losses, mAP every 2 epochs.
 *
 * Flags: --loss bce|focal|both --parallel true|false --threads N (libtorch threads per training process
 *        and PyTorch threads) --minutes 30 (wall-clock budget per training process; the run stops after it)
 *        --train 600 --val 150 --size 224 --classes 3 (the dataset; fixed by the issue)
 *        --epochs 16 --batch 8 --eval-period 2 --optimizer adam|adamw|sgd --lr 1e-3 --min-lr lr/100
 *        --weight-decay 0 (sgd: 5e-4) --momentum 0.9 (sgd: 0.937) --schedule-every iteration|epoch
 *        --mosaic 0 --mixup 0 (probabilities; 0 = off) --prior true --ema false --ema-decay 0.9999 --seed 11
 *        --backend <name> --workers 1 --repeats 3 (PyTorch steps; 0 skips them) --out <result name>
 * A quick check that it works: --train 16 --val 8 --size 64 --epochs 2 --batch 4 --eval-period 1
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../src/backend/index.js';
import { synthesizeDataset } from '../src/data/index.js';
import { createRandom } from '../src/data/rng.js';
import { loadTrainConfig, train, type EpochRecord, type TrainCallback, type TrainResult } from '../src/train/index.js';
import { fitLearningRates, NOMINAL_BATCH_SIZE } from '../src/train/schedule.js';
import { BENCH_DIR, printTable, runPython, writeResult } from './harness.js';

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

/** One line per epoch on stdout (steps, wall time since the start, losses, mAP when evaluated): the curve in a log file. */
function progressLine(name: string): TrainCallback {
  const start = performance.now();
  return {
    onStep(ctx) {
      if (ctx.step % 25 === 0) console.log(`${name} step ${ctx.step} ${((performance.now() - start) / 60_000).toFixed(1)} min  lr ${ctx.lr.toPrecision(3)}`);
    },
    onEpochEnd(_ctx, e) {
      const map = e.map === null ? '' : `  mAP@0.5 ${e.map.toFixed(4)}`;
      console.log(`${name} epoch ${e.epoch} step ${e.step} ${((performance.now() - start) / 60_000).toFixed(1)} min  lr ${e.lr.toPrecision(3)}  loss ${e.train.loss.toFixed(3)} val ${e.val?.loss.toFixed(3) ?? '-'}${map}`);
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

const LOSSES = { bce: [false], focal: [true], both: [false, true] } as const;

/** What one loss's run leaves for the table (a side-by-side child writes it to `--summary-file`). */
interface RunSummary {
  status: TrainResult['status'];
  best: TrainResult['best'];
  epochs: EpochRecord[];
}

/** Runs `--loss bce` and `--loss focal` as two child processes at once, each with `threads` libtorch threads. */
async function sideBySide(args: Record<string, string | boolean>, threads: number, root: string): Promise<Record<string, RunSummary>> {
  const names = ['bce', 'focal'] as const;
  const flags = Object.entries(args).filter(([k]) => !['loss', 'threads', 'parallel', 'repeats', 'out'].includes(k))
    .flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, String(v)]));
  const files = names.map((n) => join(root, `${n}.json`));
  const codes = await Promise.all(names.map((n, i) => new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [...process.execArgv, join(BENCH_DIR, 'run.ts'), 'train-synth', ...flags,
      '--loss', n, '--threads', String(threads), '--repeats', '0', '--summary-file', files[i]], { stdio: 'inherit' });
    child.on('exit', (code) => done(code));
  })));
  codes.forEach((c, i) => {
    if (c !== 0) throw new Error(`train-synth: the ${names[i]} run exited with status ${c}; run it alone with --loss ${names[i]} to see why`);
  });
  return Object.fromEntries(names.map((n, i) => [n, JSON.parse(readFileSync(files[i], 'utf8')) as RunSummary]));
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const num = (key: string, fallback: number) => (typeof args[key] === 'string' ? Number(args[key]) : fallback);
  const str = (key: string, fallback: string) => (typeof args[key] === 'string' ? (args[key] as string) : fallback);
  const bool = (key: string, fallback: boolean) => (args[key] === undefined ? fallback : args[key] === true || args[key] === 'true');
  const loss = str('loss', 'both');
  if (!(loss in LOSSES)) throw new Error(`train-synth: --loss ${loss} must be bce, focal or both`);
  const batch = num('batch', 8);
  const optimizer = str('optimizer', 'adam');
  // the recipe's learning rates are given after the reference's batch/64 scaling (what the optimizer sees)
  const effectiveLr = num('lr', optimizer === 'sgd' ? 0.05 : 1e-3);
  const envThreads = process.env.FOCAL_YOLO_THREADS;
  const cores = availableParallelism();
  const parallel = loss === 'both' && bool('parallel', cores >= 2);
  const o = {
    train: num('train', 600), val: num('val', 150), size: num('size', 224), classes: num('classes', 3), loss, parallel,
    epochs: num('epochs', 16), batch, evalPeriod: num('eval-period', 2), minutes: num('minutes', 30),
    optimizer, lr: effectiveLr, minLr: num('min-lr', effectiveLr / 100), weightDecay: num('weight-decay', optimizer === 'sgd' ? 5e-4 : 0),
    momentum: num('momentum', optimizer === 'sgd' ? 0.937 : 0.9),
    scheduleEvery: str('schedule-every', 'iteration'), mosaic: num('mosaic', 0), mixup: num('mixup', 0), prior: bool('prior', true),
    ema: bool('ema', false), emaDecay: num('ema-decay', 0.9999), seed: num('seed', 11),
    workers: num('workers', 1), repeats: num('repeats', 3),
    threads: num('threads', parallel ? Math.max(1, Math.floor(cores / 2)) : envThreads ? Number(envThreads) : cores),
  };
  const backendName = typeof args.backend === 'string' ? (args.backend as BackendName) : undefined;
  const root = join(tmpdir(), `focal-yolo-bench-train-synth-${process.pid}`);
  mkdirSync(root, { recursive: true });
  const scale = NOMINAL_BATCH_SIZE / o.batch;
  try {
    let backend: string;
    let results: Record<string, RunSummary> = {};
    if (parallel) {
      console.log(`train-synth: bce and focal side by side, ${o.threads} libtorch thread(s) each (--parallel false runs them one after the other)`);
      results = await sideBySide(args, o.threads, root);
      backend = await initBackend({ prefer: backendName, quiet: true });
    } else {
      backend = await initBackend({ prefer: backendName, threads: backendName === 'wasm' ? undefined : o.threads });
      const { yaml } = await synthesizeDataset({
        out: join(root, 'data'), images: o.train + o.val, classes: o.classes, size: o.size, seed: 1, valFraction: o.val / (o.train + o.val),
      });
      for (const focalLoss of LOSSES[loss as keyof typeof LOSSES]) {
        const name = focalLoss ? 'focal' : 'bce';
        const config = loadTrainConfig({
          overrides: {
            data: yaml, variant: 'yolov4-tiny', inputShape: o.size, epochs: o.epochs, batchSize: o.batch, evalPeriod: o.evalPeriod,
            savePeriod: o.epochs, optimizer: o.optimizer, lr: o.lr * scale, minLr: o.minLr * scale, weightDecay: o.weightDecay, momentum: o.momentum,
            scheduleEvery: o.scheduleEvery, mosaic: o.mosaic > 0, mosaicProb: o.mosaic, mixup: o.mixup > 0, mixupProb: o.mixup,
            priorObjectnessBias: o.prior, ema: o.ema, emaDecay: o.emaDecay, focalLoss, workers: o.workers, saveDir: join(root, 'runs'), name, seed: o.seed,
          },
        });
        const { lr, minLr } = fitLearningRates({ optimizer: config.optimizer, batchSize: o.batch, initLr: config.lr, minLr: config.minLr });
        console.log(`\n== ${name}: ${o.epochs} epochs at batch ${o.batch}, ${o.size} px, ${o.optimizer} lr ${lr.toPrecision(3)} → ${minLr.toPrecision(3)}, budget ${o.minutes} min, backend ${backend} (${o.threads} threads)`);
        const r = await train(config, { callbacks: [budget(o.minutes), progressLine(name)], plot: false, quiet: !process.stderr.isTTY });
        results[name] = { status: r.status, best: r.best, epochs: r.history.epochs };
      }
      if (typeof args['summary-file'] === 'string') {
        writeFileSync(args['summary-file'], JSON.stringify(results[loss]));
        return;
      }
    }
    const torch = o.repeats > 0
      ? runPython<TorchStep>('train_synth.py', { batch: o.batch, size: o.size, classes: o.classes, targets: randomTargets(o.batch, o.classes), repeats: o.repeats, threads: o.threads })
      : undefined;
    const stepsPerEpoch = Math.floor(o.train / o.batch);
    const rows = (Object.keys(results) as ('bce' | 'focal')[]).map((name) => {
      const r = results[name];
      const epochs = r.epochs;
      const later = epochs.length > 1 ? epochs.slice(1) : epochs; // the first epoch includes warm-up of the kernels
      const seconds = later.reduce((s, e) => s + e.seconds, 0) / Math.max(1, later.length);
      const valSeconds = later.reduce((s, e) => s + e.valSeconds, 0) / Math.max(1, later.length);
      const stepMs = (1000 * seconds) / stepsPerEpoch;
      const evaluated = epochs.filter((e) => e.map !== null);
      const torchMs = torch?.[name].median_ms;
      return {
        objectness: name, status: r.status, epochs: epochs.length, steps: epochs.length ? epochs[epochs.length - 1].step : 0, 'best mAP@0.5': r.best?.map ?? NaN,
        'last mAP@0.5': evaluated.length ? (evaluated[evaluated.length - 1].map as number) : NaN,
        's/epoch': seconds, 'val s/epoch': valSeconds, 'ms/step': stepMs,
        'torch ms/step': torchMs ?? NaN, 'ratio (ours/torch)': torchMs ? stepMs / torchMs : NaN,
        'torch net-only ms/step': torch?.network.median_ms ?? NaN,
      };
    });
    console.log('');
    printTable(rows);
    writeResult(typeof args.out === 'string' ? args.out : loss === 'both' ? 'train-synth' : `train-synth-${loss}`, {
      command: `npm run bench -- train-synth ${Object.entries(args).map(([k, v]) => (v === true ? `--${k}` : `--${k} ${v}`)).join(' ')}`.trim(),
      options: o, backend, torch: torch ? { version: torch.torch, threads: torch.threads } : null, rows,
      curves: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.epochs.map((e) => ({ epoch: e.epoch, loss: e.train.loss, valLoss: e.val?.loss ?? null, map: e.map, seconds: e.seconds, step: e.step, lr: e.lr }))])),
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
