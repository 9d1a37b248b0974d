/**
 * The demo: with nothing but the package, synthesise a shapes dataset, train YOLOv4-tiny (focal or
 * BCE objectness) for a time budget, evaluate it, detect on held-out images, and write everything
 * (data, weights, history, report.html, drawn detections, summary.json) into one folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readSplit, synthesizeDataset } from '../data/index.js';
import { evaluateDetector, Detector, drawDetections } from '../infer/index.js';
import { createYolo, VARIANT_ANCHORS } from '../models/index.js';
import { loadTrainConfig, train, type TrainCallback, type TrainConfig } from '../train/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { YoloLoss } from '../yolo/index.js';
import { writeReport } from './write.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Output folder (default `runs/demo`); replaced when it holds an earlier demo, refused when it holds anything else. */
  out?: string;
  /** Objectness loss (default focal). */
  loss?: 'bce' | 'focal';
  /** Image and network input side, a multiple of 32 (default {@link defaultDemoSize}: 128 on torch / tfjs-node, 96 on wasm and cpu; 64 with `quick`). */
  size?: number;
  /**
   * Training time budget in minutes; the epochs are fitted to it by timing a few steps, then to the real pace
   * (default {@link defaultDemoMinutes}: 5 on torch / tfjs-node, 8 on wasm and cpu).
   */
  minutes?: number;
  /** Train exactly this many epochs instead of fitting them to `minutes`. */
  epochs?: number;
  /** The CI setting: 48 images of 64×64, 5 epochs (unless `minutes` or `epochs` is given), well under 3 minutes end to end. */
  quick?: boolean;
  /** Training + validation images, at most (default 480; 48 with `quick`); a short time budget uses fewer to train ~10 epochs. */
  images?: number;
  /** Messages (default `console.error`). */
  log?: (line: string) => void;
  /** No progress bars. */
  quiet?: boolean;
}

/** What {@link runDemo} returns (also written to `summary.json`). */
export interface DemoResult {
  out: string;
  backend: string;
  loss: 'bce' | 'focal';
  size: number;
  epochs: number;
  trainImages: number;
  valImages: number;
  heldOutImages: number;
  /** Best validation mAP@0.5 during training. */
  valMap: number | null;
  /** mAP@0.5 (VOC) of the best weights on the held-out images. */
  heldOutMap: number;
  /** Seconds per stage (`prepare`: timing a few steps and writing the data) and in total. */
  seconds: { prepare: number; train: number; evaluate: number; report: number; total: number };
  files: { data: string; run: string; weights: string; history: string; report: string; detections: string; summary: string };
}

const SUMMARY_FILE = 'summary.json';
/** The demo's ordinary augmentation: scale range and aspect jitter (the reference: 0.25…2 and 0.3). */
const DEMO_SCALE: [number, number] = [0.7, 1.3];
const DEMO_JITTER = 0.15;
/** Each shape's box area as a share of the image (the synthetic set's default is 0.015…0.2: 16–57 px at 128). */
const DEMO_OBJECT_AREA: [number, number] = [0.04, 0.25];

/**
 * The default training budget in minutes on a backend: 5 where a step is fast (torch, tfjs-node), 8 on
 * wasm and cpu, so that the whole demo (data, training, evaluation, report) stays under 10 minutes.
 *
 * @example
 * ```ts
 * defaultDemoMinutes('wasm'); // 8
 * ```
 */
export function defaultDemoMinutes(backend: string): number {
  return backend === 'torch' || backend === 'tfjs-node' ? 5 : 8;
}

/**
 * The demo's default image side on a backend: 128 on the native backends, 96 on wasm and cpu, where
 * a step at 96 costs ~0.6× one at 128, so the same minutes hold ~1.6× the steps (measured on wasm in
 * 8 minutes: 62 % held-out mAP@0.5 at 96 against 41 % at 128).
 *
 * @example
 * ```ts
 * defaultDemoSize('wasm'); // 96
 * ```
 */
export function defaultDemoSize(backend: string): number {
  return backend === 'torch' || backend === 'tfjs-node' ? 128 : 96;
}

/** Empties `out` when it holds an earlier demo (its summary.json); refuses a folder with other content. */
function prepareOutput(out: string): void {
  if (!existsSync(out)) return;
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  if (!entries.includes(SUMMARY_FILE)) {
    throw new Error(`demo output ${out} exists and is not an earlier demo: give another --out or remove it`);
  }
  for (const name of ['data', 'heldout', 'focal', 'bce', 'detections', SUMMARY_FILE]) rmSync(join(out, name), { recursive: true, force: true });
}

/** Seconds of one training step (forward, loss, gradients; median of 3 after a warm-up) at this size and batch. */
async function timeTrainingStep(size: number, batchSize: number, numClasses: number): Promise<number> {
  const { anchors, anchorsMask } = VARIANT_ANCHORS['yolov4-tiny'];
  const model = createYolo({ variant: 'yolov4-tiny', numClasses, inputShape: [size, size] });
  const loss = new YoloLoss({ inputShape: [size, size], numClasses, anchors, anchorsMask, focalLoss: true });
  const targets = Array.from({ length: batchSize }, () => Float32Array.from([0.5, 0.5, 0.3, 0.3, 0]));
  const images = tf.randomUniform([batchSize, size, size, 3]) as tf.Tensor4D;
  const times: number[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => loss.total(model.predictRaw(images, true), targets).loss, model.trainableVariables());
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      if (i > 0) times.push((performance.now() - t0) / 1000);
    }
  } finally {
    images.dispose();
    model.dispose();
  }
  return times.sort((a, b) => a - b)[1];
}

/** The demo's training options. */
function demoConfig(data: string, out: string, o: { focal: boolean; size: number; epochs: number; batchSize: number }): TrainConfig {
  // the run folder is named after the loss, so `compare runs/demo/focal runs/demo-bce/bce` labels itself
  return loadTrainConfig({
    overrides: {
      data, variant: 'yolov4-tiny', inputShape: o.size, epochs: o.epochs, batchSize: o.batchSize,
      // Adam at its clamp maximum (1e-3 after the reference's batch/64 scaling): fastest from random init
      optimizer: 'adam', lr: (1e-3 * 64) / o.batchSize, minLr: (1e-5 * 64) / o.batchSize, weightDecay: 0, momentum: 0.9,
      // a short run: the warm-up and the cosine move every step, not once per epoch
      scheduleEvery: 'iteration',
      focalLoss: o.focal, priorObjectnessBias: o.focal, mosaic: false, mixup: false,
      // the evaluation sees the shapes at their drawn size: the reference's scale range 0.25…2 (objects down to
      // 4 px at 128) slows a few hundred steps down for nothing; a mild range learns faster (docs/demo.md)
      scaleMin: DEMO_SCALE[0], scaleMax: DEMO_SCALE[1], jitter: DEMO_JITTER,
      evalPeriod: Math.max(1, Math.round(o.epochs / 6)), savePeriod: 10_000, saveDir: out, name: o.focal ? 'focal' : 'bce', workers: 0, seed: 7,
    },
  });
}

/**
 * Keeps the run inside `seconds`: after each epoch, sets `config.epochs` to what fits at the median
 * epoch time so far (the trainer reads it live, so the cosine schedule and the last-epoch
 * validation follow; one slow epoch on a busy machine does not cut the run). It lengthens the run
 * only in its first half and only when two or more epochs more fit (no flip-flop on timing noise);
 * past the budget plus a minute (1.5× for budgets under two minutes) it stops the run (status
 * interrupted).
 */
function timeBudget(config: TrainConfig, seconds: number, log: (line: string) => void): TrainCallback {
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const durations: number[] = [];
  let last = 0;
  const limit = Math.min(1.5 * seconds, seconds + 60);
  return {
    onEpochEnd(ctx) {
      const now = elapsed();
      durations.push(now - last);
      last = now;
      const sorted = [...durations].sort((a, b) => a - b);
      const pace = sorted[Math.floor((sorted.length - 1) / 2)];
      const done = ctx.epoch + 1;
      const fits = Math.min(300, done + Math.max(1, Math.floor((seconds - now) / pace)));
      // lengthen only in the first half (later the learning rate would climb back up) and only by a clear
      // margin (two epochs), so that timing noise does not flip the count back and forth; shorten any time
      const change = fits < config.epochs || (fits > config.epochs + 1 && 2 * done <= config.epochs);
      if (change && done < config.epochs) {
        log(`demo: ${pace.toFixed(1)} s per epoch: training ${fits} epochs instead of ${config.epochs} to fill ${Math.round(seconds)} s`);
        config.epochs = fits;
      }
    },
    onStep(ctx) {
      if (elapsed() > limit) ctx.stopReason = `${Math.round(limit)} s reached (time budget ${Math.round(seconds)} s)`;
    },
  };
}

/**
 * Runs the demo end to end and returns its numbers and files (written to `<out>/summary.json` too).
 *
 * @example
 * ```ts
 * await initBackend();
 * const r = await runDemo({ loss: 'focal', minutes: 5 });
 * console.log(r.heldOutMap, r.files.report);
 * ```
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const quick = opts.quick ?? false;
  const size = opts.size ?? (quick ? 64 : defaultDemoSize(tf.getBackend()));
  if (!(Number.isInteger(size) && size >= 64 && size <= 1024 && size % 32 === 0)) throw new Error(`demo: size ${size} must be a multiple of 32 in 64…1024 (e.g. 128)`);
  const minutes = opts.minutes ?? (quick ? 1 : defaultDemoMinutes(tf.getBackend()));
  if (!(minutes > 0 && minutes <= 24 * 60)) throw new Error(`demo: minutes ${minutes} must be a positive number (e.g. 5)`);
  if (opts.epochs !== undefined && !(Number.isInteger(opts.epochs) && opts.epochs >= 1)) throw new Error(`demo: epochs ${opts.epochs} must be a positive integer`);
  const images = opts.images ?? (quick ? 48 : 480);
  if (!(Number.isInteger(images) && images >= 10)) throw new Error(`demo: images ${images} must be an integer of at least 10`);
  const focal = (opts.loss ?? 'focal') === 'focal';
  if (opts.loss !== undefined && opts.loss !== 'bce' && opts.loss !== 'focal') throw new Error(`demo: loss '${String(opts.loss)}' must be bce or focal`);
  const out = resolve(opts.out ?? 'runs/demo');
  const classes = quick ? 3 : 4;
  const batchSize = 8;
  const t0 = performance.now();
  prepareOutput(out);
  // marks the folder as the demo's at once, so a rerun after a crash may replace it
  await writeFileAtomic(join(out, SUMMARY_FILE), JSON.stringify({ status: 'running' }) + '\n');

  // --quick trains a fixed 5 epochs (CI wants a predictable run); otherwise the epochs fit the time budget
  const fitToTime = opts.epochs === undefined && (!quick || opts.minutes !== undefined);
  let epochs = opts.epochs ?? 5;
  let total = images;
  if (fitToTime) {
    const step = await timeTrainingStep(size, batchSize, classes);
    // a step per batch plus ~25% for validation, loading and checkpoints; timeBudget() corrects this from the real pace
    const steps = Math.max(1, Math.floor((minutes * 60) / (1.25 * step)));
    // at least ~10 epochs, so the schedule's first (warm-up) and last (minimum rate) epochs stay a small part of
    // the run: on a slow machine the training set shrinks (augmentation varies it) rather than the epochs
    const trainImages = Math.min(Math.round(images * 0.8), Math.max(64, Math.floor(steps / 10) * batchSize));
    total = Math.min(images, Math.round(trainImages / 0.8));
    epochs = Math.max(2, Math.min(300, Math.floor(steps / Math.max(1, Math.floor(trainImages / batchSize)))));
    log(`demo: a training step of ${batchSize} images takes ${step.toFixed(2)} s on ${tf.getBackend()}: about ${epochs} epochs of ${trainImages} images fit in ${minutes} min`);
  }
  const data = await synthesizeDataset({ out: join(out, 'data'), images: total, classes, size, seed: 1, valFraction: 0.2, maxObjects: 3, objectArea: DEMO_OBJECT_AREA });
  const heldOutCount = quick ? 8 : 64;
  const heldOut = await synthesizeDataset({ out: join(out, 'heldout'), images: heldOutCount, classes, size, seed: 2, valFraction: 0, maxObjects: 3, objectArea: DEMO_OBJECT_AREA });
  const tData = performance.now();
  log(`demo: ${data.train} training, ${data.val} validation and ${heldOutCount} held-out images of ${size}×${size} with ${classes} shapes (${data.names.join(', ')}) in ${join(out, 'data')}`);
  const config = demoConfig(data.yaml, out, { focal, size, epochs, batchSize });
  const tTrain0 = performance.now();
  const callbacks = fitToTime ? [timeBudget(config, minutes * 60, log)] : [];
  const result = await train(config, { log, quiet: opts.quiet, callbacks });
  const tTrain = performance.now();

  const weights = join(result.runDir, 'weights', existsSync(join(result.runDir, 'weights', 'best')) ? 'best' : 'last');
  const detector = await Detector.load(weights, { confidence: 0.2 });
  const detectionsDir = join(out, 'detections');
  let heldOutMap: number;
  try {
    const heldOutSet = await readSplit(heldOut.yaml, 'train');
    const { result: evaluation } = await evaluateDetector(detector, heldOutSet, { metric: 'voc' });
    heldOutMap = evaluation.map;
    const found = await detector.detectBatch(heldOutSet.samples.map((s) => s.image));
    const perImage = [];
    for (let i = 0; i < found.length; i++) {
      const name = basename(heldOutSet.samples[i].image).replace(/\.[^.]+$/, '');
      await writeFileAtomic(join(detectionsDir, `${name}.png`), await drawDetections(heldOutSet.samples[i].image, found[i], { numClasses: classes, inputShape: [size, size], minFontSize: 9 }));
      perImage.push({ image: heldOutSet.samples[i].image, detections: found[i] });
    }
    await writeFileAtomic(join(detectionsDir, 'detections.json'), JSON.stringify(perImage, null, 1) + '\n');
  } finally {
    detector.model.dispose();
  }
  const tEval = performance.now();
  const report = await writeReport(result.runDir);
  const tReport = performance.now();

  const summary: DemoResult = {
    out, backend: tf.getBackend(), loss: focal ? 'focal' : 'bce', size, epochs: result.epochsDone,
    trainImages: data.train, valImages: data.val, heldOutImages: heldOutCount, valMap: result.best?.map ?? null, heldOutMap,
    seconds: {
      prepare: (tData - t0) / 1000, train: (tTrain - tTrain0) / 1000, evaluate: (tEval - tTrain) / 1000, report: (tReport - tEval) / 1000, total: (tReport - t0) / 1000,
    },
    files: {
      data: data.yaml, run: result.runDir, weights, history: join(result.runDir, 'history.json'), report, detections: detectionsDir, summary: join(out, SUMMARY_FILE),
    },
  };
  await writeFileAtomic(summary.files.summary, JSON.stringify(summary, null, 1) + '\n');
  return summary;
}

/** The closing lines the CLI prints: the numbers and every file, one per line. */
export function formatDemoSummary(r: DemoResult): string {
  const pct = (v: number | null) => (v === null || Number.isNaN(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  return [
    `demo finished in ${r.seconds.total.toFixed(0)} s on ${r.backend} (${r.loss} objectness, ${r.size}×${r.size}, ${r.epochs} epochs, training ${r.seconds.train.toFixed(0)} s)`,
    `  validation mAP@0.5 (best epoch): ${pct(r.valMap)}   held-out mAP@0.5: ${pct(r.heldOutMap)} on ${r.heldOutImages} images`,
    `  report      ${r.files.report}`,
    `  detections  ${r.files.detections}/ (drawn PNGs and detections.json)`,
    `  weights     ${r.files.weights}`,
    `  history     ${r.files.history} (+ .csv, .png)`,
    `  dataset     ${r.files.data}`,
    `  summary     ${r.files.summary}`,
  ].join('\n');
}
