/**
 * `npm run bench -- data [--images 240] [--size 416] [--batch 8] [--warmup 3] [--batches 20] [--repeats 2] [--stages] [--resampler pil|libvips] [--cache]`: images/s of the
 * training pipeline (reference defaults: mosaic 0.5, mixup 0.5 after mosaic) at 416 with 1 and 2
 * workers on the synthetic set, against the reference's PIL/NumPy/OpenCV pipeline (bench/data_ref.py,
 * torch DataLoader with the same number of workers) on the same images. `--stages` adds the CPU cost
 * per call of each stage (decode, resize, HSV, float conversion, whole sample) on both sides.
 * `--cache` adds our loader with `cache: 'ram'` after two untimed epochs (the steady state; the
 * reference has no such cache, so that row is not a same-operations comparison).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createLoader, readSplit, synthesizeDataset } from '../src/data/index.js';
import { decodeImage, type Resampler } from '../src/data/image.js';
import { hsvJitter } from '../src/data/hsv.js';
import { pipelineItems, SamplePipeline, writePixels } from '../src/data/pipeline.js';
import type { Sample } from '../src/data/types.js';
import { printTable, runPython, writeResult } from './harness.js';

interface PyResult {
  images_per_s: number;
  cpu_s_per_image: number;
  hsv: string;
  images: number;
}

async function measureOurs(samples: Parameters<typeof createLoader>[0], workers: number, batch: number, batches: number, warmup: number, seed: number, resampler: Resampler, cache: boolean) {
  const loader = createLoader(samples, { inputShape: [416, 416], batchSize: batch, workers, seed, epochs: 300, resampler, cache: cache ? 'ram' : 'none' });
  try {
    // with the cache, the steady state: two whole epochs fill each worker's cache first (untimed)
    const warmEpochs = cache ? 2 : 0;
    for (let e = 0; e < warmEpochs; e++) for await (const b of loader.epoch(e)) void b;
    const it = loader.epoch(warmEpochs)[Symbol.asyncIterator]();
    // worker start-up and the batches already under way when timing starts are not timed
    for (let k = 0; k < warmup; k++) await it.next();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    for (let k = 0; k < batches; k++) {
      const r = await it.next();
      if (r.done) throw new Error('epoch too short for the benchmark: raise --images');
      n += r.value.shape[0];
    }
    const seconds = (performance.now() - t0) / 1000;
    await it.return?.(undefined);
    const cpu = process.cpuUsage(c0);
    return { imagesPerS: n / seconds, cpuSPerImage: (cpu.user + cpu.system) / 1e6 / n };
  } finally {
    await loader.close();
  }
}

/** CPU milliseconds per call of each stage, in this thread with one libvips thread (for `--stages`). */
async function stagesOurs(samples: Sample[], reps: number, seed: number, resampler: Resampler): Promise<Record<string, number>> {
  const before = sharp.concurrency();
  sharp.concurrency(1);
  try {
    const paths = samples.slice(0, reps).map((s) => s.image);
    const pixels = await Promise.all(paths.map(async (p) => (await decodeImage(p)).data));
    const { width: w, height: h } = await sharp(paths[0]).metadata();
    const pipeline = new SamplePipeline(pipelineItems(samples), { inputShape: [416, 416], epochs: 300, seed, resampler });
    const out = new Float32Array(416 * 416 * 3);
    const cpuMs = async (f: (i: number) => unknown): Promise<number> => {
      for (let i = 0; i < 5; i++) await f(i);
      const c0 = process.cpuUsage();
      for (let i = 0; i < reps; i++) await f(i);
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1000 / reps;
    };
    const big: [number, number] = [Math.trunc(1.5 * w!), Math.trunc(1.5 * h!)];
    return {
      decode: await cpuMs((i) => decodeImage(paths[i])),
      'decode + reduce to 0.7': await cpuMs((i) => decodeImage(paths[i], { size: [Math.trunc(0.7 * w!), Math.trunc(0.7 * h!)], resampler, sourceSize: [w!, h!] })),
      // the reference resizes the whole image; we resample only what lands on the 416² canvas
      'decode + enlarge to 1.5': await cpuMs((i) => decodeImage(paths[i], { size: big, region: [0, 0, 416, 416], resampler, sourceSize: [w!, h!] })),
      'HSV jitter': await cpuMs((i) => hsvJitter(pixels[i].slice(), [1.05, 0.8, 1.1])),
      'to float': await cpuMs((i) => writePixels({ pixels: pixels[i], rows: [], kind: 'random' }, out, 0)),
      'whole sample': await cpuMs(async (i) => writePixels(await pipeline.sample(i, 0, i), out, 0)),
    };
  } finally {
    sharp.concurrency(before);
  }
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const images = Number(args.images ?? 240);
  const size = Number(args.size ?? 416);
  const batch = Number(args.batch ?? 8);
  const batches = Number(args.batches ?? 20);
  const warmup = Number(args.warmup ?? 3);
  const repeats = Number(args.repeats ?? 2);
  const seed = 11;
  const resampler = String(args.resampler ?? 'pil');
  const withCache = Boolean(args.cache);
  if (resampler !== 'pil' && resampler !== 'libvips') throw new Error(`--resampler ${resampler}: use pil or libvips`);
  const dir = mkdtempSync(join(tmpdir(), 'focal-yolo-bench-data-'));
  try {
    const { yaml } = await synthesizeDataset({ out: dir, images, classes: 4, size, seed: 1, valFraction: 0 });
    const train = await readSplit(yaml, 'train');
    const lines = train.samples.map((s) => [s.image, ...s.boxes.map((b, i) => `${b.map((v) => Math.trunc(v)).join(',')},${s.classes[i]}`)].join(' '));
    const loadBefore = loadavg();
    const rows: Record<string, string | number>[] = [];
    const results: Record<string, unknown>[] = [];
    const best = <T extends object>(runs: T[], key: keyof T): T => runs.reduce((a, b) => ((b[key] as number) > (a[key] as number) ? b : a));
    for (const workers of [1, 2]) {
      // alternate the two pipelines and keep each one's best run: the machine is shared, so the
      // best run is the least disturbed one
      const oursRuns: Awaited<ReturnType<typeof measureOurs>>[] = [];
      const cachedRuns: Awaited<ReturnType<typeof measureOurs>>[] = [];
      const refRuns: PyResult[] = [];
      for (let r = 0; r < repeats; r++) {
        oursRuns.push(await measureOurs(train.samples, workers, batch, batches, warmup, seed, resampler, false));
        if (withCache) cachedRuns.push(await measureOurs(train.samples, workers, batch, batches, warmup, seed, resampler, true));
        const py = runPython<PyResult>('data_ref.py', { lines, input: [416, 416], batch, batches, warmup, workers, mosaic_prob: 0.5, mixup_prob: 0.5, seed }, { threads: 1 });
        if (py) refRuns.push(py);
      }
      const ours = best(oursRuns, 'imagesPerS');
      const cached = cachedRuns.length > 0 ? best(cachedRuns, 'imagesPerS') : undefined;
      const ref = refRuns.length > 0 ? best(refRuns, 'images_per_s') : undefined;
      const row: Record<string, string | number> = {
        workers,
        'ours img/s': ours.imagesPerS,
        'ours cpu ms/img': ours.cpuSPerImage * 1000,
      };
      if (ref) {
        row['ref img/s'] = ref.images_per_s;
        row['ref cpu ms/img'] = ref.cpu_s_per_image * 1000;
        row['speed-up'] = ours.imagesPerS / ref.images_per_s;
      }
      if (cached) {
        row['cached img/s'] = cached.imagesPerS;
        row['cached cpu ms/img'] = cached.cpuSPerImage * 1000;
        if (ref) row['cached speed-up'] = cached.imagesPerS / ref.images_per_s;
      }
      rows.push(row);
      results.push({
        workers, ours, reference: ref ?? null, speedup: ref ? ours.imagesPerS / ref.images_per_s : null,
        ...(cached ? { cachedRam: cached, cachedSpeedup: ref ? cached.imagesPerS / ref.images_per_s : null } : {}),
      });
    }
    printTable(rows);
    let stages: Record<string, unknown> | undefined;
    if (args.stages) {
      // per-stage CPU cost, one thread each side, same images (our HSV row includes copying the image, as the reference's OpenCV calls return new arrays)
      const reps = Math.min(60, train.samples.length);
      const ours = await stagesOurs(train.samples, reps, seed, resampler);
      const ref = runPython<Record<string, number>>('data_ref.py', { stages: true, lines, input: [416, 416], reps, seed }, { threads: 1 });
      printTable(Object.keys(ours).map((k) => ({ 'stage (cpu ms/call)': k, ours: ours[k], reference: ref?.[k] ?? 'n/a' })));
      stages = { ours, reference: ref ?? null };
    }
    const hsv = (results[0].reference as PyResult | null)?.hsv ?? 'n/a';
    console.log(`load average (1 min) ${loadBefore[0].toFixed(1)} before, ${loadavg()[0].toFixed(1)} after, on ${cpus().length} cores`);
    console.log(`synthetic set: ${images} images of ${size}x${size}; input 416x416; batch ${batch}; ${warmup} warm-up and ${batches} timed batches; reference HSV via ${hsv}`);
    writeResult('data', {
      settings: { images, sourceSize: size, resampler, cacheRow: withCache, input: [416, 416], batch, batches, warmup, repeats, mosaicProb: 0.5, mixupProb: 0.5, referenceHsv: hsv },
      results,
      stages: stages ?? null,
      target: 'speed-up >= 1.5 at equal worker count',
      loadAverage1m: { before: loadBefore[0], after: loadavg()[0] },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
