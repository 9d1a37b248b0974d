/**
 * `npm run bench -- profile-step [--backends torch,wasm] [--variants yolov4-tiny,yolov4] [--batch 8]
 *   [--size 256] [--threads <cores>] [--warmup 2] [--top 15] [--classes 20]`
 *
 * Where the time of one real training step goes, per backend: forward in training mode, the real
 * YoloLoss (focal objectness, CIoU), backward and the reference optimizer (SGD Nesterov, the three
 * parameter groups) run under `tf.profile` after `--warmup` unprofiled steps. Prints the top kernels
 * by total time (calls, total ms, share of all kernel time, average ms, bytes added to tfjs's
 * memory) and the step's wall time, of which the remainder outside kernels is JS (tape, loss
 * bookkeeping, optimizer loop). Each (backend, variant) runs in its own process. Result:
 * bench/results/profile-step.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../src/backend/index.js';
import { createYolo, VARIANT_ANCHORS, type YoloVariant } from '../src/models/index.js';
import { defaultTrainConfig, parameterGroups, ReferenceOptimizer } from '../src/train/index.js';
import { YoloLoss } from '../src/yolo/index.js';
import { BENCH_DIR, printTable, writeResult } from './harness.js';
import { randomTargets } from './yolo-loss.js';

interface Cell {
  backend: BackendName;
  variant: YoloVariant;
  batch: number;
  size: number;
  classes: number;
  threads: number;
  warmup: number;
}

/** One kernel name's share of the profiled step. */
interface KernelRow {
  name: string;
  calls: number;
  totalMs: number;
  /** CPU time of all threads (torch backend only, else NaN). */
  cpuMs: number;
  share: number;
  avgMs: number;
  bytesAdded: number;
  /** A custom-gradient scope, not a kernel: its time includes the kernels run inside it. */
  scope: boolean;
}

interface CellProfile {
  /** Wall time of the profiled step and of the unprofiled step before it. */
  stepMs: number;
  unprofiledStepMs: number;
  /** CPU time (user + system, all threads) of the unprofiled step. */
  unprofiledCpuMs: number;
  kernelMs: number;
  kernelCpuMs: number;
  kernelCalls: number;
  peakBytes: number;
  kernels: KernelRow[];
}

/**
 * Sums tf.profile's per-call records by kernel name, heaviest first. tf.profile also records the
 * custom-gradient scopes around kernels (e.g. `fusedConv2d__op`, YoloLoss's `forward`) with the time
 * of the kernels inside them; `isKernel` tells those apart, and they are kept out of the shares.
 */
export function aggregateKernels(
  kernels: readonly {
    name: string; kernelTimeMs: number | { error: string } | Promise<number | { error: string }>; bytesAdded: number;
    extraInfo: string | Promise<string>;
  }[],
  isKernel: (name: string) => boolean,
): KernelRow[] {
  const byName = new Map<string, KernelRow>();
  let total = 0;
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : NaN;
    const scope = !isKernel(k.name);
    if (!scope) total += ms;
    const row = byName.get(k.name) ?? { name: k.name, calls: 0, totalMs: 0, cpuMs: 0, share: 0, avgMs: 0, bytesAdded: 0, scope };
    row.calls++;
    row.totalMs += ms;
    // the torch backend adds the CPU time (all threads) as `cpuMs=…`; other backends report NaN
    const cpu = typeof k.extraInfo === 'string' ? /cpuMs=([\d.e+-]+)/.exec(k.extraInfo) : null;
    row.cpuMs += cpu ? Number(cpu[1]) : NaN;
    row.bytesAdded += k.bytesAdded;
    byName.set(k.name, row);
  }
  const rows = [...byName.values()].sort((a, b) => b.totalMs - a.totalMs);
  for (const r of rows) {
    r.share = r.scope ? NaN : r.totalMs / total;
    r.avgMs = r.totalMs / r.calls;
  }
  return rows;
}

/** Builds the model, loss and optimizer of a cell and profiles one training step after the warm-up. */
async function profileCell(cell: Cell): Promise<CellProfile> {
  await initBackend({ prefer: cell.backend, threads: cell.threads, quiet: true });
  const config = defaultTrainConfig(cell.variant);
  const { anchors, anchorsMask } = VARIANT_ANCHORS[cell.variant];
  const model = createYolo({ variant: cell.variant, numClasses: cell.classes, inputShape: [cell.size, cell.size], seed: 0 });
  const loss = new YoloLoss({
    inputShape: [cell.size, cell.size], numClasses: cell.classes, anchors, anchorsMask, focalLoss: true, iouType: config.iouType,
  });
  const optimizer = new ReferenceOptimizer(parameterGroups(model, config), { type: 'sgd', momentum: config.momentum, nesterov: true });
  optimizer.lr = 1e-4;
  const images = tf.randomUniform([cell.batch, cell.size, cell.size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const targets = randomTargets(cell.batch, 6, cell.classes, 7);
  const vars = model.trainableVariables();
  const step = (): void => {
    const { value, grads } = tf.variableGrads(() => loss.total(model.predictRaw(images, true), targets).loss, vars);
    value.dataSync();
    optimizer.step(grads);
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < cell.warmup; i++) step();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  step();
  const unprofiledStepMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const t1 = performance.now();
  const info = await tf.profile(step);
  const stepMs = performance.now() - t1;
  const backendName = tf.getBackend();
  const kernels = aggregateKernels(info.kernels, (name) => tf.getKernel(name, backendName) !== undefined);
  images.dispose();
  model.dispose();
  return {
    stepMs, unprofiledStepMs, unprofiledCpuMs: (cpu.user + cpu.system) / 1000,
    kernelMs: kernels.reduce((s, k) => s + (k.scope ? 0 : k.totalMs), 0), kernelCpuMs: kernels.reduce((s, k) => s + (k.scope ? 0 : k.cpuMs), 0), kernelCalls: kernels.reduce((s, k) => s + (k.scope ? 0 : k.calls), 0), peakBytes: info.peakBytes, kernels,
  };
}

function inChild(cell: Cell): CellProfile | string {
  const args = ['--max-old-space-size=16384', '--import', 'tsx', join(BENCH_DIR, 'run.ts'), 'profile-step', '--child', JSON.stringify(cell)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : (r.stderr.trim().split('\n').filter((l) => /error/i.test(l)).pop() ?? r.stderr.trim().split('\n').pop() ?? '');
    return `failed: ${why.slice(0, 200)}`;
  }
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as CellProfile;
}

function list<T extends string>(value: string | boolean | undefined, fallback: T[]): T[] {
  return typeof value === 'string' ? (value.split(',') as T[]) : fallback;
}

function positive(value: string | boolean | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag} ${String(value)} is not a non-negative integer; pass e.g. --${flag} ${fallback}.`);
  return n;
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  if (typeof args.child === 'string') {
    console.log(JSON.stringify(await profileCell(JSON.parse(args.child) as Cell)));
    return;
  }
  const backends = list<BackendName>(args.backends, ['torch']);
  const variants = list<YoloVariant>(args.variants, ['yolov4-tiny']);
  const base = {
    batch: positive(args.batch, 8, 'batch'), size: positive(args.size, 256, 'size'), classes: positive(args.classes, 20, 'classes'),
    threads: positive(args.threads, os.availableParallelism(), 'threads'), warmup: positive(args.warmup, 2, 'warmup'),
  };
  const top = positive(args.top, 15, 'top');
  const loadBefore = os.loadavg();
  const results: (Cell & { profile?: CellProfile; error?: string })[] = [];
  for (const variant of variants) {
    for (const backend of backends) {
      const cell: Cell = { backend, variant, ...base };
      console.log(`\n== ${backend}: ${variant} training step, batch ${cell.batch} at ${cell.size}², ${cell.threads} thread(s), ${cell.warmup} warm-up step(s)`);
      const p = inChild(cell);
      if (typeof p === 'string') {
        console.log(p);
        results.push({ ...cell, error: p });
        continue;
      }
      results.push({ ...cell, profile: p });
      printTable(p.kernels.slice(0, top).map((k) => ({
        kernel: k.scope ? `(${k.name})` : k.name, calls: k.calls, 'total ms': k.totalMs.toFixed(1), 'CPU ms': Number.isNaN(k.cpuMs) ? '-' : k.cpuMs.toFixed(1),
        share: k.scope ? 'scope' : `${(100 * k.share).toFixed(1)} %`,
        'avg ms': k.avgMs.toFixed(3), 'MB added': (k.bytesAdded / 2 ** 20).toFixed(1),
      })));
      const outside = p.stepMs - p.kernelMs;
      console.log(`kernels: ${p.kernelMs.toFixed(0)} ms (CPU ${p.kernelCpuMs.toFixed(0)} ms) in ${p.kernelCalls} calls (${p.kernels.length} names); profiled step ${p.stepMs.toFixed(0)} ms ` +
        `(${outside.toFixed(0)} ms outside kernels); unprofiled step ${p.unprofiledStepMs.toFixed(0)} ms wall, ${p.unprofiledCpuMs.toFixed(0)} ms CPU; ` +
        `tfjs peak ${(p.peakBytes / 2 ** 20).toFixed(0)} MB`);
    }
  }
  const loadAfter = os.loadavg();
  console.log('\n(name) rows are custom-gradient scopes: their time includes the kernels inside them and is not in the shares.');
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} (${os.cpus().length} cores)`);
  writeResult('profile-step', {
    command: `npm run bench -- profile-step ${Object.entries(args).map(([k, v]) => (v === true ? `--${k}` : `--${k} ${v}`)).join(' ')}`.trim(),
    settings: { ...base, loss: 'YoloLoss (focal objectness, CIoU)', optimizer: 'ReferenceOptimizer SGD Nesterov, 3 groups' },
    loadAverage: { before: loadBefore, after: loadAfter },
    results,
  });
}
