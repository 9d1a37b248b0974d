/**
 * `npm run bench -- conv [--repeats 5] [--threads 1,2] [--shapes 0,1,2,3,4] [--cpu-max-gflop 0.1] [--report]`
 *
 * GFLOP/s of the forward convolution, Conv2DBackpropInput and Conv2DBackpropFilter at YOLO shapes
 * (batch 8), for wasm (each thread count in its own process: the count is fixed per process), the tfjs
 * cpu backend (batch 1, shapes up to --cpu-max-gflop: it is far slower) and PyTorch with the same
 * threads, plus the target: every wasm backprop kernel at ≥ 60% of wasm forward GFLOP/s.
 * `--report` re-prints the table of bench/results/conv.json without measuring.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../src/backend/index.js';
import { wasmThreads } from '../src/backend/wasm.js';
import { BENCH_DIR, RESULTS_DIR, printTable, runPython, summarize, writeResult, type Timing } from './harness.js';

/** [batch, height, width, inChannels, outChannels, kernel, stride], 'same' padding. */
type ConvShape = [number, number, number, number, number, number, number];
type Op = 'forward' | 'backpropInput' | 'backpropFilter';
const OPS: Op[] = ['forward', 'backpropInput', 'backpropFilter'];
/** Each backprop kernel must reach this fraction of the forward convolution's GFLOP/s. */
const TARGET = 0.6;

export const SHAPES: ConvShape[] = [
  [8, 104, 104, 64, 64, 3, 1],
  [8, 208, 208, 32, 64, 3, 2],
  [8, 13, 13, 512, 1024, 3, 1],
  [8, 52, 52, 128, 128, 1, 1],
  [8, 416, 416, 3, 32, 3, 2],
];

interface OpResult extends Timing {
  /** From the median wall time. */
  gflops: number;
  /** From the median CPU time of this process (all its threads): robust to other processes' load. */
  cpuGflops: number;
}
/** Per shape (same order as requested), per op. */
type Run = Record<Op, OpResult>[];

/** Multiply-adds ×2 of one convolution; the same for its two gradients. */
function flops([n, h, w, ci, co, k, s]: ConvShape): number {
  return 2 * n * Math.ceil(h / s) * Math.ceil(w / s) * k * k * ci * co;
}

function label([n, h, w, ci, co, k, s]: ConvShape): string {
  return `${n === 8 ? '' : `b${n} `}${h}x${w}x${ci}->${co} ${k}x${k} s${s}`;
}

/**
 * Measures the three ops in this process on `backend`. The ops take turns within each repeat, so that
 * load from other processes hits them alike (the machine is shared); kernels are synchronous, so no
 * read-back is needed.
 */
async function measureHere(backend: BackendName, threads: number, shapes: ConvShape[], repeats: number): Promise<Run> {
  await initBackend({ prefer: backend, threads, quiet: true });
  const run: Run = [];
  for (const shape of shapes) {
    const [n, h, w, ci, co, k, s] = shape;
    const x = tf.randomNormal([n, h, w, ci]) as tf.Tensor4D;
    const filter = tf.randomNormal([k, k, ci, co]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, Math.ceil(h / s), Math.ceil(w / s), co]) as tf.Tensor4D;
    const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
    const ops: Record<Op, () => tf.Tensor> = {
      forward: () => tf.conv2d(x, filter, s, 'same'),
      backpropInput: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: [n, h, w, ci] }) as tf.Tensor,
      backpropFilter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [k, k, ci, co] }) as tf.Tensor,
    };
    const wall: Record<Op, number[]> = { forward: [], backpropInput: [], backpropFilter: [] };
    const cpu: Record<Op, number[]> = { forward: [], backpropInput: [], backpropFilter: [] };
    for (let r = -1; r < repeats; r++) {
      for (const op of OPS) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        ops[op]().dispose();
        const t1 = performance.now();
        const c = process.cpuUsage(c0);
        if (r < 0) continue; // warm-up: XNNPACK creates and caches its operators
        wall[op].push(t1 - t0);
        cpu[op].push((c.user + c.system) / 1000);
      }
    }
    const row = {} as Record<Op, OpResult>;
    for (const op of OPS) {
      const t = summarize(wall[op]);
      row[op] = { ...t, gflops: flops(shape) / (t.medianMs * 1e6), cpuGflops: flops(shape) / (summarize(cpu[op]).medianMs * 1e6) };
    }
    tf.dispose([x, filter, dy]);
    run.push(row);
  }
  return run;
}

/** Runs {@link measureHere} in a child process (a fresh wasm backend with its own thread count). */
function measureInChild(backend: BackendName, threads: number, shapeIndexes: number[], repeats: number, batchOne = false): Run | string {
  const args = ['--import', 'tsx', join(BENCH_DIR, 'run.ts'), 'conv', '--child', backend, '--threads', String(threads), '--shapes', shapeIndexes.join(','), '--repeats', String(repeats)];
  if (batchOne) args.push('--batch-one');
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = r.stdout.trim().split('\n');
  if (r.status !== 0) return `failed: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
  return JSON.parse(lines[lines.length - 1]) as Run;
}

interface TorchRun {
  torch: string;
  threads: number;
  results: ({ shape: ConvShape } & Record<Op, Timing & { cpuMedianMs?: number }>)[];
}

function parseList(value: string | boolean | undefined, fallback: number[]): number[] {
  if (typeof value !== 'string') return fallback;
  const list = value.split(',').map(Number);
  if (list.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`'${value}' is not a comma-separated list of integers (e.g. 1,2).`);
  return list;
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const repeats = parseList(args.repeats, [5])[0];
  const shapeIndexes = parseList(args.shapes, SHAPES.map((_, i) => i));
  const bad = shapeIndexes.find((i) => i >= SHAPES.length);
  if (bad !== undefined) throw new Error(`--shapes ${bad}: there are ${SHAPES.length} shapes (0-${SHAPES.length - 1}).`);
  const shapes = shapeIndexes.map((i): ConvShape => (args['batch-one'] === true ? [1, ...SHAPES[i].slice(1)] as ConvShape : SHAPES[i]));
  const threadCounts = parseList(args.threads, [1, 2]);

  if (typeof args.child === 'string') {
    const result = await measureHere(args.child as BackendName, threadCounts[0], shapes, repeats);
    if (args.child === 'wasm' && wasmThreads() !== threadCounts[0]) throw new Error(`wasm ran with ${wasmThreads()} threads, not ${threadCounts[0]}`);
    console.log(JSON.stringify(result));
    return;
  }

  if (args.report === true) {
    // Re-print the table of the last run without measuring again.
    render(JSON.parse(readFileSync(join(RESULTS_DIR, 'conv.json'), 'utf8')) as ConvResult);
    return;
  }
  const cpuMaxGflop = Number(args['cpu-max-gflop'] ?? 0.1);
  const loadBefore = os.loadavg();
  const wasm: Record<number, Run | string> = {};
  const torch: Record<number, TorchRun | undefined> = {};
  for (const t of threadCounts) {
    console.log(`measuring wasm with ${t} thread(s) …`);
    wasm[t] = measureInChild('wasm', t, shapeIndexes, repeats);
    console.log(`measuring PyTorch with ${t} thread(s) …`);
    torch[t] = runPython<TorchRun>('conv.py', { shapes, repeats }, { threads: t });
  }
  // tfjs cpu runs these kernels at well under 1 GFLOP/s: batch 1, small shapes, 2 repeats.
  const cpuIndexes = shapeIndexes.filter((i) => flops(SHAPES[i]) / SHAPES[i][0] <= cpuMaxGflop * 1e9);
  console.log(`measuring tfjs cpu at batch 1 on ${cpuIndexes.length} shape(s) up to ${cpuMaxGflop} GFLOP …`);
  const cpuRun = cpuIndexes.length > 0 ? measureInChild('cpu', 1, cpuIndexes, 2, true) : 'skipped';
  const loadAfter = os.loadavg();
  const result: ConvResult = {
    backend: 'wasm (+ tfjs cpu, PyTorch)',
    threads: threadCounts,
    repeats,
    shapes,
    flops: shapes.map(flops),
    wasm,
    cpu: { shapes: cpuIndexes.map((i) => SHAPES[i]), results: cpuRun },
    torch,
    targets: [],
    loadAverage: { before: loadBefore, after: loadAfter },
  };
  result.targets = render(result);
  writeResult('conv', result as unknown as Record<string, unknown>);
}

interface Target {
  shape: string;
  op: Op;
  threads: number;
  /** Backprop GFLOP/s over forward GFLOP/s, from median wall times and from median CPU times. */
  fractionOfForward: number;
  fractionOfForwardCpuTime: number;
  met: boolean;
}

interface ConvResult {
  backend: string;
  threads: number[];
  repeats: number;
  shapes: ConvShape[];
  flops: number[];
  wasm: Record<number, Run | string>;
  cpu: { shapes: ConvShape[]; results: Run | string };
  torch: Record<number, TorchRun | undefined>;
  targets: Target[];
  loadAverage: { before: number[]; after: number[] };
}

/** Prints the table and the target check; returns the target cases. */
function render(r: ConvResult): Target[] {
  const rows: Record<string, string | number>[] = [];
  const targets: Target[] = [];
  const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(1));
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  r.shapes.forEach((shape, si) => {
    for (const op of OPS) {
      const row: Record<string, string | number> = { shape: label(shape), op };
      for (const t of r.threads) {
        const runT = r.wasm[t];
        const ours = typeof runT === 'string' ? undefined : runT[si][op];
        const theirs = r.torch[t]?.results[si][op];
        const torchGflops = theirs === undefined ? undefined : flops(shape) / (theirs.medianMs * 1e6);
        row[`wasm x${t}`] = fmt(ours?.gflops);
        row[`torch x${t}`] = fmt(torchGflops);
        const cpuRatio = ours && theirs?.cpuMedianMs ? ` (${((ours.cpuGflops * theirs.cpuMedianMs * 1e6) / flops(shape)).toFixed(2)})` : '';
        row[`wasm/torch x${t} (cpu-time)`] = ours && torchGflops ? (ours.gflops / torchGflops).toFixed(2) + cpuRatio : '-';
        if (ours && op !== 'forward' && typeof runT !== 'string') {
          const fraction = ours.gflops / runT[si].forward.gflops;
          const fractionCpu = ours.cpuGflops / runT[si].forward.cpuGflops;
          row[`%fwd x${t} (cpu-time)`] = `${pct(fraction)}${fraction >= TARGET ? '' : '<'} (${pct(fractionCpu)})`;
          targets.push({ shape: label(shape), op, threads: t, fractionOfForward: fraction, fractionOfForwardCpuTime: fractionCpu, met: fraction >= TARGET });
        } else row[`%fwd x${t} (cpu-time)`] = '';
      }
      const ci = r.cpu.shapes.findIndex((c) => c.slice(1).join() === shape.slice(1).join());
      row['cpu b1'] = ci >= 0 && typeof r.cpu.results !== 'string' ? fmt(r.cpu.results[ci][op].gflops) : 'not run';
      rows.push(row);
    }
  });
  console.log(`\nGFLOP/s from median wall time of ${r.repeats} repeats (ops interleaved); batch 8, NHWC, 'same' padding.`);
  console.log(`%fwd: backprop / forward GFLOP/s of wasm, '<' below the ${TARGET * 100}% target; in brackets the same from CPU time (robust to other load).`);
  console.log(`wasm/torch: GFLOP/s ratio, >1 = wasm faster; in brackets from CPU times (PyTorch runs in its own process, at another moment).`);
  console.log(`cpu b1: tfjs cpu backend at batch 1, small shapes only (it is far too slow for the rest).`);
  printTable(rows);
  for (const t of r.threads) if (typeof r.wasm[t] === 'string') console.log(`wasm x${t}: ${r.wasm[t]}`);
  const missed = targets.filter((t) => !t.met);
  console.log(
    `\ntarget (each wasm backprop >= ${TARGET * 100}% of wasm forward GFLOP/s): ` +
      (missed.length === 0 ? `met in all ${targets.length} cases` : `missed in ${missed.length} of ${targets.length}: ${missed.map((m) => `${m.shape} ${m.op} x${m.threads}`).join('; ')}`),
  );
  const la = (v: number[]) => v.map((x) => x.toFixed(1)).join(' ');
  console.log(`load average before ${la(r.loadAverage.before)}, after ${la(r.loadAverage.after)} (${os.cpus().length} cores, shared with other work)`);
  return targets;
}
