/** `focal-yolo fps <model>`: images per second, with the time of each stage (reference-spec §5.7 mode fps). */
import type { Command } from 'commander';
import sharp from 'sharp';
import { Detector, type DetectTimings } from '../infer/index.js';
import { createYolo, YOLO_VARIANTS, type YoloVariant } from '../models/index.js';
import { addModelOptions, detectorFromCli, intOption, startBackend, type ModelCliOptions } from './infer-options.js';

interface FpsOptions extends ModelCliOptions {
  image?: string;
  runs: number;
  batch: number;
}

/** A deterministic 640×480 test picture (gradients and blocks) when no image is given. */
async function testImage(): Promise<Buffer> {
  const w = 640;
  const h = 480;
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = 3 * (y * w + x);
      px[p] = (x * 255) / w;
      px[p + 1] = (y * 255) / h;
      px[p + 2] = ((x >> 5) + (y >> 5)) % 2 ? 200 : 40;
    }
  }
  return sharp(Buffer.from(px.buffer), { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer();
}

/** Adds the `fps` command. */
export function register(program: Command): void {
  const cmd = program
    .command('fps')
    .description('measure images per second over N runs: pre-processing, network, decode and NMS timed separately')
    .argument('[model]', 'checkpoint directory or Darknet .weights; omitted: random weights of --variant with --classes')
    .option('--image <file>', 'image to run on (default: a generated 640×480 picture)')
    .option('--runs <n>', 'timed runs after one warm-up run', intOption('runs', 1, 100000), 20)
    .option('--batch <n>', 'images per network call', intOption('batch', 1, 256), 1);
  addModelOptions(cmd).action(async (model: string | undefined, o: FpsOptions, command: Command) => {
    const backend = await startBackend(command);
    let detector: Detector;
    if (model === undefined) {
      const variant = (o.variant ?? 'yolov4-tiny') as YoloVariant;
      if (!YOLO_VARIANTS.includes(variant)) throw new Error(`--variant ${variant} is unknown; use ${YOLO_VARIANTS.join(' or ')}`);
      detector = new Detector(createYolo({ variant, numClasses: o.classes ?? 80, inputShape: o.size ?? [416, 416], seed: 0 }));
    } else {
      detector = await detectorFromCli(model, o);
    }
    const image = o.image ?? (await testImage());
    const batch = Array.from({ length: o.batch }, () => image);
    await detector.detectBatch(batch, { batchSize: o.batch }); // warm-up (kernel compilation, allocation)
    const sum: DetectTimings = { preprocessMs: 0, networkMs: 0, decodeMs: 0, nmsMs: 0 };
    const t0 = performance.now();
    for (let r = 0; r < o.runs; r++) {
      await detector.detectBatch(batch, { batchSize: o.batch });
      for (const k of Object.keys(sum) as (keyof DetectTimings)[]) sum[k] += detector.lastTimings[k];
    }
    const totalMs = performance.now() - t0;
    const images = o.runs * o.batch;
    const [h, w] = detector.model.inputShape;
    console.log(`${detector.model.variant} ${w}x${h}, backend ${backend}, batch ${o.batch}, ${o.runs} runs`);
    for (const [name, key] of [['pre-processing', 'preprocessMs'], ['network', 'networkMs'], ['decode', 'decodeMs'], ['NMS', 'nmsMs']] as const) {
      console.log(`  ${name.padEnd(15)} ${(sum[key] / images).toFixed(2).padStart(9)} ms/image`);
    }
    const perImage = totalMs / images;
    const noPre = (sum.networkMs + sum.decodeMs + sum.nmsMs) / images;
    console.log(`  ${'total'.padEnd(15)} ${perImage.toFixed(2).padStart(9)} ms/image = ${(1000 / perImage).toFixed(2)} images/s`);
    console.log(`  reference-style (network + decode + NMS): ${(noPre / 1000).toFixed(4)} seconds, ${(1000 / noPre).toFixed(2)} FPS, @batch_size ${o.batch}`);
    detector.dispose();
  });
}
