/**
 * `npm run bench -- fused-step [--cells tiny256,tiny416,v4-416] [--threads 2] [--rounds 2] [--repeats 3]`
 *
 * The training step of forward.ts's bench (forward in training mode, Σ mean(out²), backward, SGD) on
 * the torch backend with the fused conv + BatchNorm + activation ops (native/fused.cc) and without
 * them (FOCAL_YOLO_FUSED=0: tfjs composes BatchNorm and the activation), against PyTorch (the
 * network of bench/forward.py) with the same threads. The three run interleaved, each in a fresh
 * process, `--rounds` times, so that a shared machine's load falls on all of them alike. Reports the
 * median and minimum wall time per step and the CPU time per step (all threads), and the ratios to
 * PyTorch (OMP_WAIT_POLICY=PASSIVE on both sides unless set). Cells: tiny256 / tiny416 = YOLOv4-tiny batch 8 at 256 / 416, v4-416 = YOLOv4 batch 4 at 416.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { createYolo, type YoloVariant } from '../src/models/index.js';
import { BENCH_DIR, printTable, torchPython, writeResult } from './harness.js';

interface Cell { variant: YoloVariant; batch: number; size: number }
type Side = 'fused' | 'composed' | 'pytorch';
interface Sample { wallMs: number[]; cpuMs: number[] }

const CELLS: Record<string, Cell> = {
  tiny256: { variant: 'yolov4-tiny', batch: 8, size: 256 },
  tiny416: { variant: 'yolov4-tiny', batch: 8, size: 416 },
  'v4-416': { variant: 'yolov4', batch: 4, size: 416 },
};

/** CPU time of this process (all threads) in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Child: times `repeats` training steps after one warm-up on the torch backend; prints a Sample. */
async function child(cell: Cell, threads: number, repeats: number): Promise<void> {
  await initBackend({ prefer: 'torch', threads, quiet: true });
  const model = createYolo({ variant: cell.variant, numClasses: 20, inputShape: [cell.size, cell.size], seed: 0 });
  const x = tf.randomUniform([cell.batch, cell.size, cell.size, 3]) as tf.Tensor4D;
  const optimizer = tf.train.sgd(1e-3);
  const step = () => {
    const cost = optimizer.minimize(
      () => tf.addN(model.predictRaw(x, true).map((o) => tf.mean(tf.square(o)))) as tf.Scalar, true, model.trainableVariables());
    cost?.dataSync();
    cost?.dispose();
  };
  step();
  const sample: Sample = { wallMs: [], cpuMs: [] };
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    step();
    sample.wallMs.push(performance.now() - t0);
    sample.cpuMs.push(cpuMs() - c0);
  }
  console.log(JSON.stringify(sample));
}

/** PyTorch's step (bench/forward.py's network and loss), timed the same way. */
const PYTORCH_STEP = `
import json, sys, time, torch
sys.path.insert(0, sys.argv[2])
import forward
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"]); torch.manual_seed(0)
model = forward.build(a["variant"], 20); model.train()
x = torch.rand(a["batch"], 3, a["size"], a["size"])
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
def step():
    opt.zero_grad()
    loss = sum(torch.mean(o * o) for o in model(x))
    loss.backward()
    opt.step()
step()
wall, cpu = [], []
for _ in range(a["repeats"]):
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    wall.append((time.perf_counter() - t0) * 1000.0); cpu.append((time.process_time() - c0) * 1000.0)
print(json.dumps({"wallMs": wall, "cpuMs": cpu}))
`;

function measure(side: Side, cell: Cell, threads: number, repeats: number): Sample | string {
  // Both sides sleep between parallel regions (the addon's default; OpenMP's spin-waiting default
  // costs PyTorch several times its time on a shared machine).
  const env: NodeJS.ProcessEnv = {
    ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
  };
  let r;
  if (side === 'pytorch') {
    const py = torchPython();
    if (py === undefined) return 'PyTorch not found (apt-get install -y python3-torch)';
    r = spawnSync(py, ['-c', PYTORCH_STEP, JSON.stringify({ ...cell, threads, repeats }), BENCH_DIR], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  } else {
    env.FOCAL_YOLO_FUSED = side === 'fused' ? '1' : '0';
    r = spawnSync(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', join(BENCH_DIR, 'run.ts'), 'fused-step', '--child',
      JSON.stringify(cell), '--threads', String(threads), '--repeats', String(repeats)], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  }
  if (r.status !== 0) return `failed: ${r.signal ? `killed by ${r.signal}` : (r.stderr.trim().split('\n').pop() ?? '').slice(0, 160)}`;
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Sample;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const threads = Number(args.threads ?? 2);
  const repeats = Number(args.repeats ?? 3);
  if (typeof args.child === 'string') {
    await child(JSON.parse(args.child) as Cell, threads, repeats);
    return;
  }
  const rounds = Number(args.rounds ?? 2);
  const names = typeof args.cells === 'string' ? args.cells.split(',') : ['tiny256', 'tiny416', 'v4-416'];
  const sides: Side[] = ['fused', 'composed', 'pytorch'];
  const loadBefore = os.loadavg();
  const results: Record<string, Record<Side, Sample & { errors: string[] }>> = {};
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const cell = CELLS[name];
      if (cell === undefined) throw new Error(`fused-step: unknown cell '${name}'; use ${Object.keys(CELLS).join(', ')}.`);
      results[name] ??= { fused: { wallMs: [], cpuMs: [], errors: [] }, composed: { wallMs: [], cpuMs: [], errors: [] }, pytorch: { wallMs: [], cpuMs: [], errors: [] } };
      for (const side of sides) {
        console.log(`round ${round + 1}/${rounds}: ${name} ${side} (load ${os.loadavg()[0].toFixed(1)}) …`);
        const s = measure(side, cell, threads, repeats);
        const acc = results[name][side];
        if (typeof s === 'string') acc.errors.push(s);
        else {
          acc.wallMs.push(...s.wallMs);
          acc.cpuMs.push(...s.cpuMs);
        }
      }
    }
  }
  const rows: Record<string, string | number>[] = [];
  for (const name of names) {
    const ref = results[name].pytorch;
    for (const side of sides) {
      const r = results[name][side];
      if (r.wallMs.length === 0) {
        rows.push({ cell: name, side, 'median ms': r.errors[0] ?? 'no samples' });
        continue;
      }
      const ratio = (f: (s: Sample) => number) => (ref.wallMs.length > 0 ? f(r) / f(ref) : '-');
      rows.push({
        cell: name, side, 'median ms': median(r.wallMs), 'min ms': Math.min(...r.wallMs), 'CPU ms (median)': median(r.cpuMs),
        '× PyTorch (median)': ratio((s) => median(s.wallMs)), '× PyTorch (min)': ratio((s) => Math.min(...s.wallMs)),
        '× PyTorch (CPU)': ratio((s) => median(s.cpuMs)),
      });
    }
  }
  printTable(rows);
  const loadAfter = os.loadavg();
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')}`);
  writeResult(`fused-step-${names.join('-')}-t${threads}`, {
    settings: { threads, repeats, rounds, cells: names.map((n) => ({ name: n, ...CELLS[n] })), loss: 'sum over levels of mean(out^2)', optimizer: 'SGD' },
    loadAverage: { before: loadBefore, after: loadAfter }, results, table: rows,
  });
}
