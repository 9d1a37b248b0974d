/**
 * `npm run bench -- focal [--sizes 1000000,10000000] [--threads 1] [--repeats 3] [--backends wasm,cpu]`
 *
 * Forward + backward of `sigmoidFocalLoss` (α 0.25, γ 2, mean) on N logits, per tfjs backend,
 * against torchvision's `sigmoid_focal_loss` formula written in PyTorch (bench/focal.py) with the
 * same thread count, in the same run. Target: the best backend within 1.5× of PyTorch at 10M.
 * Also checks each backend's loss against a float64 evaluation of the same data.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { availableBackends, initBackend, type BackendName } from '../src/backend/index.js';
import { sigmoidFocalLoss } from '../src/losses/index.js';
import { focal64 } from '../src/losses/reference64.js';
import { printTable, runPython, time, writeResult, type Timing } from './harness.js';

const TARGET_RATIO = 1.5;

interface TorchResult {
  torch: string;
  threads: number;
  results: (Timing & { n: number; loss: number })[];
}

/** Seeded inputs: logits ~ N(0, 4²), labels Bernoulli(0.1), as in focal.py. */
function inputs(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    x[i] = 4 * r * Math.cos(t);
    if (i + 1 < n) x[i + 1] = 4 * r * Math.sin(t);
  }
  for (let i = 0; i < n; i++) y[i] = uniform() < 0.1 ? 1 : 0;
  return { x, y };
}

function mean64(x: Float32Array, y: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += focal64(x[i], y[i], 0.25, 2);
  return sum / x.length;
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const sizes = typeof args.sizes === 'string' ? args.sizes.split(',').map(Number) : [1_000_000, 10_000_000];
  const threads = Number(args.threads ?? 1);
  const repeats = Number(args.repeats ?? 3);
  // the torch backend (and a threaded wasm build) read this
  process.env.FOCAL_YOLO_THREADS = String(threads);
  const backends: BackendName[] = typeof args.backends === 'string'
    ? (args.backends.split(',') as BackendName[])
    : (await availableBackends()).filter((b) => b !== 'tfjs-node');

  console.log(`sigmoidFocalLoss forward + backward, α 0.25, γ 2, mean; ${threads} thread(s); median of ${repeats}`);
  // PyTorch runs before and after the tfjs backends; the faster of its two medians is the reference
  // (conservative when the machine is shared and busy)
  const torchArgs = { sizes, repeats, alpha: 0.25, gamma: 2, threads };
  const torch = runPython<TorchResult>('focal.py', torchArgs, { threads });
  const torchMs = new Map(torch?.results.map((r) => [r.n, r.medianMs]) ?? []);
  const loadBefore = os.loadavg()[0];

  const rows: Record<string, string | number>[] = [];
  const results: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const data = inputs(n, 1234 + n);
    const expected = mean64(data.x, data.y);
    for (const backend of backends) {
      try {
        await initBackend({ prefer: backend, quiet: true, threads });
      } catch (err) {
        console.log(`${backend}: not available (${(err as Error).message.split('\n')[0]})`);
        continue;
      }
      const x = tf.tensor1d(data.x);
      const y = tf.tensor1d(data.y);
      const step = tf.valueAndGrad((z: tf.Tensor) => sigmoidFocalLoss(y, z) as tf.Scalar);
      let loss = Number.NaN;
      const timing = await time(() => {
        const { value, grad } = step(x);
        const first = tf.slice(grad, 0, 1); // forces the backward pass without copying 4·N bytes out
        first.dataSync();
        loss = value.dataSync()[0];
        tf.dispose([value, grad, first]);
      }, { repeats, warmup: 1 });
      tf.dispose([x, y]);
      const reference = torchMs.get(n);
      const ratio = reference === undefined ? Number.NaN : timing.medianMs / reference;
      const relError = Math.abs(loss - expected) / expected;
      rows.push({ backend, n, 'ms': timing.medianMs, 'torch ms': reference ?? 'n/a', 'ratio': ratio, 'loss rel. err': relError.toExponential(1) });
      results.push({ backend, n, ...timing, torchMedianMs: reference, ratio, loss, float64Loss: expected });
    }
  }
  const torchAfter = torch ? runPython<TorchResult>('focal.py', torchArgs, { threads }) : undefined;
  for (const r of torchAfter?.results ?? []) torchMs.set(r.n, Math.min(torchMs.get(r.n) ?? Infinity, r.medianMs));
  for (const [i, r] of results.entries()) {
    const reference = torchMs.get(r.n as number);
    if (reference === undefined) continue;
    r.torchMedianMs = reference;
    r.ratio = (r.medianMs as number) / reference;
    rows[i]['torch ms'] = reference;
    rows[i].ratio = r.ratio as number;
  }
  printTable(rows);
  const load = [loadBefore, os.loadavg()[0]];
  console.log(`1-minute load average before/after: ${load.map((l) => l.toFixed(1)).join(' / ')} (${os.cpus().length} cores)`);
  const largest = Math.max(...sizes);
  const atLargest = results.filter((r) => r.n === largest && Number.isFinite(r.ratio as number));
  const best = atLargest.sort((a, b) => (a.ratio as number) - (b.ratio as number))[0];
  const verdict = best === undefined
    ? 'no PyTorch comparison (python3-torch missing)'
    : `best at n=${largest}: ${String(best.backend)} at ${(best.ratio as number).toFixed(2)}× PyTorch (target ≤ ${TARGET_RATIO}×): ${(best.ratio as number) <= TARGET_RATIO ? 'met' : 'NOT met'}`;
  console.log(`\n${verdict}`);
  writeResult('focal', {
    description: 'sigmoidFocalLoss forward+backward (alpha 0.25, gamma 2, mean) vs torchvision sigmoid_focal_loss formula in PyTorch',
    threads, repeats, targetRatio: TARGET_RATIO, loadAverage: load,
    torch: torch ? { version: torch.torch, threads: torch.threads, before: torch.results, after: torchAfter?.results } : null,
    results, verdict,
  });
}
