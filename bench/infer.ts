/**
 * `npm run bench -- infer [--runs 3] [--threads 2] [--backends torch,wasm] [--variants yolov4,yolov4-tiny] [--all] [--skip-map]`
 *
 * 1. Images per second end to end at 416 (JPEG decode → letterbox → network → decode → NMS) for both
 *    variants on each tfjs backend, with the stages timed separately, and PyTorch's time for the same
 *    network (bench/infer.py builds it from the same graph description) with the same thread count.
 *    YOLOv4 on the plain `cpu` backend takes minutes per image: it runs only with --all.
 * 2. `evaluateDetections` on 5,000 images × 100 detections (20 classes), VOC and COCO; target < 5 s each
 *    (best of 3 wall-clock runs; the process CPU time is reported beside it for busy machines).
 */
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { availableBackends, initBackend, type BackendName } from '../src/backend/index.js';
import { evaluateDetectionsSync, type DetectionImage, type GroundTruthImage } from '../src/eval/index.js';
import { Detector, type DetectTimings } from '../src/infer/index.js';
import { createYolo, YOLO_VARIANTS, type YoloVariant } from '../src/models/index.js';
import { printTable, runPython, summarize, writeResult, type Timing } from './harness.js';

const SIZE = 416;
const MAP_TARGET_S = 5;

interface TorchResult {
  torch: string;
  threads: number;
  results: (Timing & { variant: YoloVariant; outputs: number[][] })[];
}

/** A deterministic 640×480 JPEG. */
async function testJpeg(): Promise<Buffer> {
  const [w, h] = [640, 480];
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const x = i % w;
    const y = Math.floor(i / w);
    px[3 * i] = (x * 255) / w;
    px[3 * i + 1] = (y * 255) / h;
    px[3 * i + 2] = ((x >> 4) ^ (y >> 4)) & 1 ? 220 : 30;
  }
  return sharp(Buffer.from(px.buffer), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Seeded synthetic evaluation data: 7 objects per image, 100 detections jittered around them. */
export function syntheticEvalData(images: number, detectionsPerImage: number, numClasses: number, seed = 1): { groundTruth: GroundTruthImage[]; detections: DetectionImage[] } {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const groundTruth: GroundTruthImage[] = [];
  const detections: DetectionImage[] = [];
  for (let i = 0; i < images; i++) {
    const g: GroundTruthImage = { boxes: [], classes: [], difficult: [] };
    for (let k = 0; k < 7; k++) {
      const [x, y, w, h] = [rnd() * 400, rnd() * 400, 8 + rnd() * 200, 8 + rnd() * 200];
      g.boxes.push([x, y, x + w, y + h]);
      g.classes.push(Math.floor(rnd() * numClasses));
      g.difficult?.push(rnd() < 0.05);
    }
    const d: DetectionImage = { boxes: [], classes: [], scores: [] };
    for (let k = 0; k < detectionsPerImage; k++) {
      const j = Math.floor(rnd() * 7);
      const b = g.boxes[j];
      const e = () => (rnd() - 0.5) * 0.3 * (b[2] - b[0]);
      d.boxes.push([b[0] + e(), b[1] + e(), b[2] + e(), b[3] + e()]);
      d.classes.push(rnd() < 0.8 ? g.classes[j] : Math.floor(rnd() * numClasses));
      d.scores.push(Math.round(rnd() * 1000) / 1000); // ties, as real 3-decimal scores have
    }
    groundTruth.push(g);
    detections.push(d);
  }
  return { groundTruth, detections };
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const runs = Number(args.runs ?? 3);
  const threads = Number(args.threads ?? 2);
  process.env.FOCAL_YOLO_THREADS = String(threads);
  const variants = (typeof args.variants === 'string' ? args.variants.split(',') : [...YOLO_VARIANTS]) as YoloVariant[];
  const backends: BackendName[] = typeof args.backends === 'string'
    ? (args.backends.split(',') as BackendName[])
    : (await availableBackends()).filter((b) => b !== 'tfjs-node');
  await initBackend({ prefer: backends[0], quiet: true, threads });
  const rows: Record<string, string | number>[] = [];
  const inference: Record<string, unknown>[] = [];

  if (!args['skip-infer']) {
    const graphs = Object.fromEntries(variants.map((v) => {
      const m = createYolo({ variant: v, numClasses: 80, inputShape: [SIZE, SIZE], seed: 0 });
      const g = m.graph;
      m.dispose();
      return [v, g];
    }));
    console.log(`Inference at ${SIZE}×${SIZE}, 80 classes, batch 1, ${threads} thread(s), median of ${runs} after one warm-up`);
    const torch = runPython<TorchResult>('infer.py', { graphs, size: SIZE, runs, threads }, { threads });
    const jpeg = await testJpeg();
    for (const variant of variants) {
      const torchMs = torch?.results.find((r) => r.variant === variant)?.medianMs;
      for (const backend of backends) {
        if (variant === 'yolov4' && backend === 'cpu' && !args.all) {
          console.log('(yolov4 on the cpu backend skipped: minutes per image; --all runs it)');
          continue;
        }
        await initBackend({ prefer: backend, quiet: true, threads });
        const detector = new Detector(createYolo({ variant, numClasses: 80, inputShape: [SIZE, SIZE], seed: 0 }), { letterbox: true, confidence: 0.5 });
        await detector.detect(jpeg); // warm-up
        const total: number[] = [];
        const stages: Record<keyof DetectTimings, number[]> = { preprocessMs: [], networkMs: [], decodeMs: [], nmsMs: [] };
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          await detector.detect(jpeg);
          total.push(performance.now() - t0);
          for (const k of Object.keys(stages) as (keyof DetectTimings)[]) stages[k].push(detector.lastTimings[k]);
        }
        detector.dispose();
        const med = (xs: number[]) => summarize(xs).medianMs;
        const e2e = summarize(total);
        const row = {
          variant,
          backend: tf.getBackend(),
          'img/s': 1000 / e2e.medianMs,
          'e2e ms': e2e.medianMs,
          'pre ms': med(stages.preprocessMs),
          'net ms': med(stages.networkMs),
          'decode ms': med(stages.decodeMs),
          'nms ms': med(stages.nmsMs),
          'torch net ms': torchMs ?? NaN,
          'net / torch': torchMs ? med(stages.networkMs) / torchMs : NaN,
        };
        rows.push(row);
        inference.push({ ...row, endToEnd: e2e });
        console.log(`  ${variant} on ${backend}: ${e2e.medianMs.toFixed(0)} ms end to end`);
      }
    }
    printTable(rows);
    if (torch) console.log(`PyTorch ${torch.torch}, ${torch.threads} thread(s), network only (no pre/post-processing)`);
  }

  const mapRows: Record<string, string | number>[] = [];
  if (!args['skip-map']) {
    const images = Number(args.images ?? 5000);
    const perImage = Number(args.detections ?? 100);
    const data = syntheticEvalData(images, perImage, 20);
    console.log(`\nevaluateDetections on ${images} images × ${perImage} detections, 20 classes (target < ${MAP_TARGET_S} s)`);
    for (const metric of ['voc', 'coco'] as const) {
      const samples: number[] = [];
      const cpu: number[] = [];
      let map = 0;
      for (let r = 0; r < 3; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        map = evaluateDetectionsSync({ ...data, numClasses: 20, metric }).map;
        samples.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }
      const t = summarize(samples);
      // CPU time too: on a shared machine the wall clock mostly measures the other processes
      const cpuMedian = summarize(cpu).medianMs / 1000;
      mapRows.push({
        metric, images, detections: images * perImage, 'wall median s': t.medianMs / 1000, 'wall min s': t.minMs / 1000,
        'cpu median s': cpuMedian, map, 'within target': t.minMs / 1000 < MAP_TARGET_S ? 'yes' : 'NO',
      });
    }
    printTable(mapRows);
  }
  writeResult('infer', { size: SIZE, runs, threads, inference, mapEvaluation: mapRows, mapTargetSeconds: MAP_TARGET_S });
}
