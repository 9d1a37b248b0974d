/**
 * `npm run bench -- forward [--backends torch,wasm,cpu] [--variants yolov4-tiny,yolov4] [--kinds infer,train] [--repeats 3]
 *   [--threads 1] [--budget 120] [--max-gib 8]`
 *
 * Inference latency (batch 1, 416×416) and training-step time (batch 8 at 256 and 416, and YOLOv4 batch 4 at 416: forward in
 * training mode, a stand-in loss Σ mean(out²), backward, SGD update) of YOLOv4 and YOLOv4-tiny on each
 * TensorFlow.js backend, and of the same networks in PyTorch (bench/forward.py, written from the spec,
 * same threads) in the same run, with the ratio tfjs / PyTorch. Each cell runs in its own process so
 * that a backend running out of memory is reported, not fatal. Cells whose estimated time (from the
 * throughput of the cells before) exceeds --budget seconds, or whose estimated activation memory
 * exceeds --max-gib, are reported as skipped with the estimate. Each cell also reports CPU time (all
 * threads) and minor page faults per step.
 *
 * `--memory [--variants yolov4] [--batch 8] [--size 416] [--warmup 0]`: peak RSS of one training step
 * instead, each side in a fresh process (bench/results/forward-memory.json).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { availableBackends, initBackend, type BackendName } from '../src/backend/index.js';
import { createYolo, exportSafetensors, loadDarknetWeights, type Yolo, type YoloVariant } from '../src/models/index.js';
import { GOLDEN_DIR } from '../test/helpers.js';
import { BENCH_DIR, printTable, runPython, time, writeResult, type Timing } from './harness.js';

interface Cell {
  variant: YoloVariant;
  classes: number;
  kind: 'infer' | 'train';
  batch: number;
  size: number;
}

/** A cell's timing plus CPU time (all threads), minor page faults per step and RSS (process RSS before the timed steps, peak). */
interface CellMeasurement extends Timing {
  cpuMsPerStep: number;
  minorFaultsPerStep: number;
  rssBeforeMB: number;
  peakRssMB: number;
}

type CellResult = Cell & Partial<CellMeasurement> & { error?: string; skipped?: string; estimateS?: number };

/** Conv GFLOPs per image at 416 (reference-spec §1.7, 20 classes). */
const GFLOP_416: Record<YoloVariant, number> = { yolov4: 59.67, 'yolov4-tiny': 6.81 };

function gflop(c: Cell): number {
  // a training step ≈ forward + two backward convolutions
  return GFLOP_416[c.variant] * (c.size / 416) ** 2 * c.batch * (c.kind === 'train' ? 3 : 1);
}

/** Rough activation memory of a training step (bytes): every node output kept for backprop, ×4 for BN/activation temporaries. */
function activationBytes(model: Yolo, c: Cell): number {
  let strideOf: number[] = [];
  strideOf = model.graph.nodes.map(() => 1);
  let total = 0;
  model.graph.nodes.forEach((n, i) => {
    const src = 'inputs' in n ? n.inputs[0] : 'input' in n ? n.input : 0;
    strideOf[i] = i === 0 ? 1 : n.kind === 'upsample' ? strideOf[src] / 2 : strideOf[src] * ('stride' in n ? n.stride : 1);
    total += (c.size / strideOf[i]) ** 2 * n.channels;
  });
  return total * 4 * c.batch * (c.kind === 'train' ? 4 : 1);
}

const label = (c: Cell) => `${c.kind} b${c.batch}@${c.size}`;

/** Runs one cell in this process and prints its timing as JSON. */
async function measureCell(backend: BackendName, threads: number, cell: Cell, repeats: number, warmup: number): Promise<void> {
  await initBackend({ prefer: backend, threads, quiet: true });
  const model = createYolo({ variant: cell.variant, numClasses: cell.classes, inputShape: [cell.size, cell.size], seed: 0 });
  const x = tf.randomUniform([cell.batch, cell.size, cell.size, 3]) as tf.Tensor4D;
  const optimizer = tf.train.sgd(1e-3);
  const step = cell.kind === 'infer'
    ? () => tf.tidy(() => model.predictRaw(x)).forEach((o) => { o.dataSync(); o.dispose(); })
    : () => {
      const cost = optimizer.minimize(
        () => tf.addN(model.predictRaw(x, true).map((o) => tf.mean(tf.square(o)))) as tf.Scalar,
        true,
        model.trainableVariables(),
      );
      cost?.dataSync();
      cost?.dispose();
    };
  for (let i = 0; i < warmup; i++) step();
  const rssBeforeMB = process.memoryUsage().rss / 2 ** 20;
  const faults0 = process.resourceUsage().minorPageFault;
  const cpu0 = process.cpuUsage();
  const t = await time(step, { repeats, warmup: 0 });
  const cpu = process.cpuUsage(cpu0);
  const usage = process.resourceUsage();
  const result: CellMeasurement = {
    ...t, cpuMsPerStep: (cpu.user + cpu.system) / 1000 / repeats, minorFaultsPerStep: (usage.minorPageFault - faults0) / repeats,
    rssBeforeMB, peakRssMB: usage.maxRSS / 1024,
  };
  console.log(JSON.stringify(result));
}

function measureInChild(backend: BackendName, threads: number, cell: Cell, repeats: number, warmup: number): CellMeasurement | string {
  const args = ['--max-old-space-size=16384', '--import', 'tsx', join(BENCH_DIR, 'run.ts'), 'forward', '--child', backend, '--threads', String(threads),
    '--cell', JSON.stringify(cell), '--repeats', String(repeats), '--warmup', String(warmup)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = r.stdout.trim().split('\n');
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : (r.stderr.trim().split('\n').filter((l) => /error/i.test(l)).pop() ?? r.stderr.trim().split('\n').pop() ?? '');
    return `failed: ${why.slice(0, 160)}`;
  }
  return JSON.parse(lines[lines.length - 1]) as CellMeasurement;
}

function list<T extends string>(value: string | boolean | undefined, fallback: T[]): T[] {
  return typeof value === 'string' ? (value.split(',') as T[]) : fallback;
}

/**
 * Interop check: the golden Darknet file → our importer → our safetensors export → the PyTorch network of
 * forward.py with load_state_dict(strict=True) → the golden outputs. Returns PyTorch's relative errors.
 */
function pytorchInteropCheck(): unknown {
  const dir = mkdtempSync(join(os.tmpdir(), 'focal-yolo-bench-'));
  try {
    const golden = join(GOLDEN_DIR, 'yolov4-tiny-3cls-160');
    const model = createYolo({ variant: 'yolov4-tiny', numClasses: 3, seed: 0 });
    loadDarknetWeights(model, new Uint8Array(readFileSync(join(golden, 'model.weights'))));
    const path = join(dir, 'tiny.safetensors');
    writeFileSync(path, exportSafetensors(model));
    model.dispose();
    return runPython('forward.py', { mode: 'check', safetensors: path, variant: 'yolov4-tiny', classes: 3, io: join(golden, 'io.json') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `--memory`: peak RSS (getrusage ru_maxrss) of one training step in a fresh process per side, ours on each
 * backend and PyTorch's, with the same threads; default YOLOv4 at 416, batch 8 (--variants, --batch, --size).
 */
async function measureMemory(args: Record<string, string | boolean>, threads: number): Promise<void> {
  const variants = list<YoloVariant>(args.variants, ['yolov4']);
  const backends = list<BackendName>(args.backends, ['torch']);
  const batch = Number(args.batch ?? 8);
  const size = Number(args.size ?? 416);
  const warmup = Number(args.warmup ?? 0);
  const loadBefore = os.loadavg();
  const rows: Record<string, string | number>[] = [];
  const results: { cell: Cell; ours: Record<string, CellMeasurement | string>; pytorch: CellResult | null }[] = [];
  for (const variant of variants) {
    const cell: Cell = { variant, classes: 20, kind: 'train', batch, size };
    const ours: Record<string, CellMeasurement | string> = {};
    for (const backend of backends) {
      console.log(`${backend}: ${variant} ${label(cell)}, ${warmup} warm-up step(s), 1 measured step, ${threads} thread(s) …`);
      ours[backend] = measureInChild(backend, threads, cell, 1, warmup);
    }
    console.log(`PyTorch: ${variant} ${label(cell)} …`);
    const torch = runPython<{ results: CellResult[] }>('forward.py', { mode: 'time', cells: [cell], repeats: 1, warmup }, { threads });
    const ref = torch?.results[0] ?? null;
    results.push({ cell, ours, pytorch: ref });
    for (const backend of backends) {
      const r = ours[backend];
      const ok = typeof r !== 'string';
      rows.push({
        network: variant, step: label(cell), backend,
        'peak RSS MB': ok ? r.peakRssMB : r,
        'torch peak MB': ref?.peakRssMB ?? ref?.error ?? 'n/a',
        'peak ratio': ok && ref?.peakRssMB !== undefined ? r.peakRssMB / ref.peakRssMB : '-',
        'RSS before MB': ok ? r.rssBeforeMB : '-',
        'torch before MB': ref?.rssBeforeMB ?? '-',
        'step ms': ok ? r.medianMs : '-',
        'torch step ms': ref?.medianMs ?? '-',
      });
    }
  }
  printTable(rows);
  const loadAfter = os.loadavg();
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')}`);
  writeResult('forward-memory', {
    settings: { threads, batch, size, warmup, loss: 'sum over levels of mean(out^2)', optimizer: 'SGD', classes: 20,
      cachingAllocator: process.env.FOCAL_YOLO_CACHING_ALLOCATOR !== '0' },
    loadAverage: { before: loadBefore, after: loadAfter }, results, table: rows,
  });
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const repeats = Number(args.repeats ?? 3);
  const threads = Number(args.threads ?? 1);
  if (typeof args.child === 'string') {
    await measureCell(args.child as BackendName, threads, JSON.parse(String(args.cell)) as Cell, repeats, Number(args.warmup ?? 1));
    return;
  }
  if (args.memory === true) {
    await measureMemory(args, threads);
    return;
  }
  const budget = Number(args.budget ?? 120);
  const maxGiB = Number(args['max-gib'] ?? 8);
  const variants = list<YoloVariant>(args.variants, ['yolov4-tiny', 'yolov4']);
  const backends = list<BackendName>(args.backends, (await availableBackends()).filter((b) => b !== 'tfjs-node'));
  const cells: Cell[] = [];
  const kinds = list<Cell['kind']>(args.kinds, ['infer', 'train']);
  for (const variant of variants) {
    if (kinds.includes('infer')) cells.push({ variant, classes: 20, kind: 'infer', batch: 1, size: 416 });
    if (kinds.includes('train')) {
      cells.push({ variant, classes: 20, kind: 'train', batch: 8, size: 256 });
      cells.push({ variant, classes: 20, kind: 'train', batch: 8, size: 416 });
      // issue #7's YOLOv4 target cell
      if (variant === 'yolov4') cells.push({ variant, classes: 20, kind: 'train', batch: 4, size: 416 });
    }
  }
  // a small training probe first, so that the first real training cell has a throughput estimate
  const probe: Cell = { variant: 'yolov4-tiny', classes: 20, kind: 'train', batch: 2, size: 128 };
  const ordered = [probe, ...cells].sort((a, b) => gflop(a) - gflop(b));

  await initBackend({ prefer: 'cpu', quiet: true });
  const interop = pytorchInteropCheck();
  console.log(`PyTorch (strict load_state_dict of our safetensors export of the golden tiny): ${JSON.stringify(interop)}`);
  const loadBefore = os.loadavg();
  const shapes = new Map(variants.map((v) => [v, createYolo({ variant: v, numClasses: 20, seed: 0 })]));
  const memGiB = (c: Cell) => activationBytes(shapes.get(c.variant) ?? createYolo({ variant: c.variant, numClasses: 20, seed: 0 }), c) / 2 ** 30;

  const tfjs: Record<string, CellResult[]> = {};
  for (const backend of backends) {
    tfjs[backend] = [];
    const throughput: Partial<Record<Cell['kind'], number>> = {}; // GFLOP/s of the last measured cell of each kind
    for (const cell of ordered) {
      const rate = throughput[cell.kind] ?? throughput.infer;
      const estimateS = rate ? gflop(cell) / rate : undefined;
      const result: CellResult = { ...cell, estimateS };
      if (estimateS !== undefined && estimateS > budget) {
        result.skipped = `est. ${estimateS.toFixed(0)} s > budget ${budget} s`;
      } else if (cell.kind === 'train' && memGiB(cell) > maxGiB) {
        result.skipped = `est. ${memGiB(cell).toFixed(1)} GiB > --max-gib ${maxGiB}`;
      } else {
        let n = estimateS === undefined ? repeats : Math.max(1, Math.min(repeats, Math.floor(budget / Math.max(estimateS, 1e-3)) - 1));
        let warmup = estimateS !== undefined && estimateS * (n + 1) > budget ? 0 : 1;
        if (cell === probe) {
          // only an estimate: one timed step; the cpu backend trains at ~0.05 GFLOP/s, so no warm-up there
          n = 1;
          warmup = backend === 'cpu' ? 0 : 1;
        }
        console.log(`${backend}: ${cell.variant} ${label(cell)} (${n} repeat(s)${estimateS ? `, est. ${estimateS.toFixed(1)} s each` : ''}) …`);
        const t = measureInChild(backend, threads, cell, n, warmup);
        if (typeof t === 'string') result.error = t;
        else {
          Object.assign(result, t);
          throughput[cell.kind] = gflop(cell) / (t.medianMs / 1000);
        }
      }
      tfjs[backend].push(result);
    }
  }
  shapes.forEach((m) => m.dispose());

  console.log(`measuring PyTorch with ${threads} thread(s) …`);
  const torch = runPython<{ torch: string; threads: number; results: CellResult[] }>('forward.py', { mode: 'time', cells, repeats }, { threads });

  const rows: Record<string, string | number>[] = [];
  for (const cell of cells) {
    const ref = torch?.results.find((r) => r.variant === cell.variant && label(r) === label(cell));
    for (const backend of backends) {
      const r = tfjs[backend].find((q) => q.variant === cell.variant && label(q) === label(cell)) as CellResult;
      rows.push({
        network: cell.variant,
        step: label(cell),
        backend,
        'tfjs ms': r.medianMs ?? (r.skipped ? `skipped (${r.skipped})` : (r.error ?? '?')),
        'torch ms': ref?.medianMs ?? ref?.error ?? 'n/a',
        'tfjs/torch': r.medianMs !== undefined && ref?.medianMs !== undefined ? r.medianMs / ref.medianMs : '-',
        'CPU ms': r.cpuMsPerStep ?? '-',
        'torch CPU ms': ref?.cpuMsPerStep ?? '-',
        'faults/step': r.minorFaultsPerStep ?? '-',
        'torch faults/step': ref?.minorFaultsPerStep ?? '-',
      });
    }
  }
  printTable(rows);
  writeResult('forward', {
    settings: { repeats, threads, budgetS: budget, maxGiB, loss: 'sum over levels of mean(out^2)', optimizer: 'SGD', classes: 20 },
    loadAverage: { before: loadBefore, after: os.loadavg() },
    pytorchInterop: interop,
    tfjs, pytorch: torch ?? null, table: rows,
  });
}
