/**
 * `npm run bench -- yolo-loss [--repeats 10] [--warmup 10] [--batch 8] [--size 416] [--classes 20] [--objects 6]`:
 * forward + backward of the full three-level YOLOv4 loss (BCE and focal objectness), per backend,
 * against bench/yolo_loss.py (reference-spec §2 in PyTorch, single thread) on the same inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { availableBackends, initBackend } from '../src/backend/index.js';
import { YoloLoss, YOLOV4_ANCHORS, YOLOV4_ANCHORS_MASK } from '../src/yolo/index.js';
import { uniformGenerator } from '../src/util/random.js';
import { printTable, runPython, summarize, writeResult, type Timing } from './harness.js';

interface TorchResult {
  torch: string;
  threads: number;
  bce: { median_ms: number; min_ms: number; cpu_median_ms: number; loss: number };
  focal: { median_ms: number; min_ms: number; cpu_median_ms: number; loss: number };
}

/** Boxes as the data pipeline emits them: inside the image, 2–60 % of its side, random classes. */
export function randomTargets(batch: number, objects: number, classes: number, seed: number): Float32Array[] {
  const r = uniformGenerator(seed);
  return Array.from({ length: batch }, () => {
    const rows = new Float32Array(objects * 5);
    for (let o = 0; o < objects; o++) {
      const w = 0.02 + 0.58 * r();
      const h = 0.02 + 0.58 * r();
      rows.set([w / 2 + (1 - w) * r(), h / 2 + (1 - h) * r(), w, h, Math.floor(r() * classes)], 5 * o);
    }
    return rows;
  });
}

/**
 * Wall-clock and CPU time (this process, all threads) of `fn`, after `warmup` calls (V8 compiles the
 * loss's loops to optimised code over the first ~10 calls, a training run's steady state is after
 * that). The machine is shared, so CPU time is the steadier of the two; both sides report both.
 */
function measure(fn: () => void, repeats: number, warmup: number): { wall: Timing; cpu: Timing } {
  for (let i = 0; i < warmup; i++) fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: summarize(wall), cpu: summarize(cpu) };
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const repeats = Number(args.repeats ?? 10);
  const warmup = Number(args.warmup ?? 10);
  const batch = Number(args.batch ?? 8);
  const size = Number(args.size ?? 416);
  const classes = Number(args.classes ?? 20);
  const objects = Number(args.objects ?? 6);
  const grids = [32, 16, 8].map((s) => [size / s, size / s] as [number, number]);
  const targets = randomTargets(batch, objects, classes, 7);
  const channels = 3 * (5 + classes);

  // the same raw head outputs for every backend and for PyTorch (standard normal, seeded)
  await initBackend({ prefer: 'cpu', quiet: true });
  const rawValues = grids.map(([h, w], l) => tf.tidy(() => tf.randomNormal([batch, h, w, channels], 0, 1, 'float32', 100 + l).dataSync() as Float32Array));
  const dir = mkdtempSync(join(os.tmpdir(), 'yolo-loss-bench-'));
  let torch: TorchResult | undefined;
  try {
    rawValues.forEach((v, l) => writeFileSync(join(dir, `raw_${l}.bin`), v));
    const config = {
      input_shape: [size, size], num_classes: classes, anchors: YOLOV4_ANCHORS, anchors_mask: YOLOV4_ANCHORS_MASK,
      focal_loss: false, focal_alpha: 0.25, focal_gamma: 2, batch,
    };
    writeFileSync(join(dir, 'case.json'), JSON.stringify({ config, grids, targets: targets.map((t) => Array.from(t)) }));
    console.log('PyTorch reference loss (1 thread)…');
    torch = runPython<TorchResult>('yolo_loss.py', { dir, repeats, warmup, threads: 1 }, { threads: 1 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: Record<string, string | number>[] = [];
  const results: Record<string, unknown>[] = [];
  const backends = (await availableBackends()).filter((b) => b !== 'tfjs-node');
  for (const backend of backends) {
    await initBackend({ prefer: backend, quiet: true });
    const raws = grids.map(([h, w], l) => tf.tensor4d(rawValues[l], [batch, h, w, channels]));
    for (const focalLoss of [false, true]) {
      const yolo = new YoloLoss({ inputShape: [size, size], numClasses: classes, anchors: YOLOV4_ANCHORS, anchorsMask: YOLOV4_ANCHORS_MASK, focalLoss });
      const step = tf.valueAndGrads((...r: tf.Tensor[]) => yolo.total(r as tf.Tensor4D[], targets).loss);
      let loss = NaN;
      const { wall, cpu } = measure(() => {
        const { value, grads } = step(raws);
        loss = value.dataSync()[0];
        // wasm, cpu and the torch addon run kernels synchronously: the gradients are complete
        // here, and like an optimizer step (and PyTorch's backward) we leave them on the backend
        tf.dispose([value, ...grads]);
      }, repeats, warmup);
      const ref = torch?.[focalLoss ? 'focal' : 'bce'];
      const row = {
        backend, objectness: focalLoss ? 'focal' : 'bce', ms: wall.medianMs,
        torch_ms: ref?.median_ms ?? NaN, speedup: ref ? ref.median_ms / wall.medianMs : NaN,
        cpu_ms: cpu.medianMs, torch_cpu_ms: ref?.cpu_median_ms ?? NaN, cpu_speedup: ref ? ref.cpu_median_ms / cpu.medianMs : NaN,
        loss, loss_rel_diff: ref ? Math.abs(loss - ref.loss) / Math.abs(ref.loss) : NaN,
      };
      rows.push(row);
      results.push({ ...row, timing: wall, cpuTiming: cpu, torchTiming: ref });
    }
    tf.dispose(raws);
  }
  printTable(rows);
  writeResult('yolo-loss', {
    setup: { batch, inputSize: size, classes, objectsPerImage: objects, levels: 3, repeats, warmup, torch: torch?.torch, torchThreads: torch?.threads, loadAverage: os.loadavg() },
    results,
  });
}
