/**
 * `train()`: the reference's training recipe (reference-spec §4) as a short loop; validation,
 * checkpoints, history and progress are callbacks (callbacks.ts), resuming reads `weights/last`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { createLoader, readDatasetConfig, readSplit, requireValid, type Batch, type Sample } from '../data/index.js';
import { createYolo, loadCheckpoint, loadDarknetWeights, SIDECAR_FILE, VARIANT_ANCHORS, type Yolo } from '../models/index.js';
import { YoloLoss } from '../yolo/index.js';
import { accumulateGradients } from './accumulate.js';
import { checkpointCallback, historyCallback, progressCallback, validationCallback } from './callbacks.js';
import { loadTrainingCheckpoint, type LoadedTrainingCheckpoint } from './checkpoint.js';
import { validateTrainConfig, type TrainConfig } from './config.js';
import type { StepInfo, TrainCallback, TrainContext, TrainStatus } from './context.js';
import { ModelEMA } from './ema.js';
import { LossMeter, type BatchLossParts, type EpochRecord, type TrainHistory } from './history.js';
import { ReferenceOptimizer, type ParamGroup } from './optimizer.js';
import { fitLearningRates, learningRateAt } from './schedule.js';

/** Options of {@link train} and {@link resumeTraining}. */
export interface TrainOptions {
  /** Extra callbacks, run after the standard ones. */
  callbacks?: TrainCallback[];
  /** Stops the run after the current step (the CLI aborts it on Ctrl-C / SIGTERM). */
  signal?: AbortSignal;
  /** Messages (default `console.error`). */
  log?: (line: string) => void;
  /** No progress bar or epoch lines. */
  quiet?: boolean;
  /** Write history.png each epoch (default true). */
  plot?: boolean;
}

/** What a run returns. */
export interface TrainResult {
  status: TrainStatus;
  runDir: string;
  /** Epochs completed (including those of the run resumed from). */
  epochsDone: number;
  best: { map: number; epoch: number } | null;
  history: TrainHistory;
}

/**
 * A NaN or infinite loss (or gradient: some backends clamp NaN probabilities into a finite loss)
 * names the step and the loss part; the update is not applied and the last checkpoint is left as it was.
 */
export class NonFiniteLossError extends Error {
  constructor(readonly epoch: number, readonly step: number, readonly part: string, readonly value: number) {
    super(
      `training stopped: ${part === 'gradient' ? 'the gradient norm' : `the ${part} loss`} is ${value} at epoch ${epoch + 1}, step ${step + 1}; the last good checkpoint is kept. ` +
        'Lower the learning rate (lr), check the data (dataset check), or resume from weights/last.',
    );
  }
}

/** The first non-finite loss part of a batch, or null. */
function nonFinitePart(parts: BatchLossParts): [string, number] | null {
  for (const key of ['box', 'objPositive', 'objNegative', 'cls'] as const) if (!Number.isFinite(parts[key])) return [key, parts[key]];
  return null;
}

/** One optimizer step on `batch` (gradients accumulated over `subdivisions`); throws on a non-finite loss before updating. */
function trainStep(ctx: TrainContext, batch: Batch): { loss: number; parts: BatchLossParts } {
  const [B, H, W] = batch.shape;
  const images = tf.tensor4d(batch.images, batch.shape);
  const parts: BatchLossParts = { box: 0, objPositive: 0, objNegative: 0, cls: 0, numPositives: 0, easyNegativeShare: 0 };
  try {
    const { loss, grads } = accumulateGradients({
      batchSize: B,
      subdivisions: ctx.config.subdivisions,
      varList: ctx.model.trainableVariables(),
      lossFn: (start, end) => {
        const x = end - start === B ? images : tf.slice(images, [start, 0, 0, 0], [end - start, H, W, 3]);
        const out = ctx.yoloLoss.total(ctx.model.predictRaw(x, true), batch.targets.slice(start, end));
        const bad = nonFinitePart(out.parts);
        if (bad) throw new NonFiniteLossError(ctx.epoch, ctx.step, bad[0], bad[1]);
        const w = (end - start) / B;
        for (const k of Object.keys(parts) as (keyof BatchLossParts)[]) parts[k] += w * out.parts[k];
        return out.loss;
      },
    });
    const norm = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
    if (!Number.isFinite(norm)) {
      tf.dispose(Object.values(grads));
      throw new NonFiniteLossError(ctx.epoch, ctx.step, 'gradient', Math.sqrt(norm));
    }
    ctx.optimizer.lr = ctx.lr;
    ctx.optimizer.step(grads);
    tf.dispose(Object.values(grads));
    ctx.ema?.update();
    return { loss, parts };
  } catch (err) {
    if (err instanceof NonFiniteLossError) throw err;
    if (err instanceof Error && /^accumulateGradients: the loss/.test(err.message)) throw new NonFiniteLossError(ctx.epoch, ctx.step, 'total', NaN);
    throw err;
  } finally {
    images.dispose();
  }
}

/**
 * The reference's three parameter groups (§4.3): BN γ (no decay), weights (decay), biases and BN β
 * (no decay). BatchNorm running statistics are in none (they are not trained).
 *
 * @example
 * ```ts
 * const opt = new ReferenceOptimizer(parameterGroups(model, config), { type: config.optimizer });
 * ```
 */
export function parameterGroups(model: Yolo, config: Pick<TrainConfig, 'optimizer' | 'weightDecay'>): ParamGroup[] {
  const of = (roles: string[]) => model.params.filter((p) => roles.includes(p.role)).map((p) => model.variable(p.key));
  // quirk 12, reproduced: AdamW's groups 0 and 2 keep its default decoupled decay of 0.01
  const noDecay = config.optimizer === 'adamw' ? 0.01 : 0;
  return [
    { params: of(['gamma']), weightDecay: noDecay },
    { params: of(['kernel']), weightDecay: config.weightDecay },
    { params: of(['bias', 'beta']), weightDecay: noDecay },
  ];
}

/** The phase of an epoch (§4.5): frozen backbone with its batch size, or the full network. */
function phaseAt(config: TrainConfig, epoch: number): { frozen: boolean; batchSize: number } {
  const frozen = config.freezeTrain && epoch < config.freezeEpochs;
  return { frozen, batchSize: frozen ? config.freezeBatchSize : config.batchSize };
}

/** A run folder that does not exist yet: `<saveDir>/<name>`, then `<name>2`, `<name>3`, … */
function newRunDir(config: TrainConfig): string {
  const base = resolve(config.saveDir, config.name);
  if (!existsSync(base)) return base;
  for (let i = 2; ; i++) if (!existsSync(`${base}${i}`)) return `${base}${i}`;
}

/** Loads `config.weights` (a checkpoint folder or a Darknet `.weights` file) into `model`. */
function loadInitialWeights(model: Yolo, weights: string, log: (line: string) => void): Promise<void> | void {
  if (!existsSync(weights)) throw new Error(`weights ${weights} does not exist; give a checkpoint folder, a Darknet .weights file, or '' for random init`);
  if (statSync(weights).isDirectory()) {
    return loadCheckpoint(weights).then(({ model: source }) => {
      let copied = 0;
      const skipped: string[] = [];
      for (const p of model.params) {
        const from = source.params.find((q) => q.key === p.key);
        if (from && from.shape.join() === p.shape.join()) {
          model.writeParam(p.key, source.readParam(p.key));
          copied++;
        } else skipped.push(p.key);
      }
      source.dispose();
      log(`initial weights: ${copied} of ${model.params.length} tensors from ${weights}${skipped.length ? ` (${skipped.length} with other shapes kept random, e.g. ${skipped[0]})` : ''}`);
    });
  }
  loadDarknetWeights(model, new Uint8Array(readFileSync(weights)), { source: weights });
  log(`initial weights: Darknet file ${weights}`);
}

/** The reference's startup warning (§4.1) when the run makes fewer optimizer steps than it recommends. */
function stepWarning(config: TrainConfig, numTrain: number): string | null {
  const perEpoch = Math.floor(numTrain / config.batchSize);
  const wanted = config.optimizer === 'sgd' ? 5e4 : 1.5e4;
  if (perEpoch === 0 || perEpoch * config.epochs > wanted) return null;
  return `${numTrain} images at batch size ${config.batchSize} for ${config.epochs} epochs make ${perEpoch * config.epochs} steps, ` +
    `fewer than the ${wanted} the reference recommends for ${config.optimizer}; consider ${Math.floor(wanted / perEpoch) + 1} epochs`;
}

interface RunSetup {
  config: TrainConfig;
  runDir: string;
  model: Yolo;
  resumed: LoadedTrainingCheckpoint | null;
}

/** The loop: phases, learning rate, steps, callbacks. */
async function run(setup: RunSetup, opts: TrainOptions): Promise<TrainResult> {
  const { config, runDir, model, resumed } = setup;
  const log = opts.log ?? ((line: string) => console.error(line));
  const dataset = readDatasetConfig(config.data);
  const read = async (split: string): Promise<Sample[]> => requireValid(await readSplit(dataset, split), { skipBad: config.skipBadSamples, log }).samples;
  const trainSamples = await read('train');
  const valSamples = 'val' in dataset.splits ? await read('val') : [];
  if (dataset.names.length !== model.numClasses) {
    throw new Error(`${config.data} names ${dataset.names.length} classes but the model has ${model.numClasses}; resume with the same dataset`);
  }
  const { anchors, anchorsMask } = VARIANT_ANCHORS[config.variant];
  const ctx: TrainContext = {
    config, runDir, model, classNames: dataset.names, anchors, anchorsMask,
    yoloLoss: new YoloLoss({
      inputShape: config.inputShape, numClasses: model.numClasses, anchors, anchorsMask, focalLoss: config.focalLoss,
      focalAlpha: config.focalAlpha, focalGamma: config.focalGamma, iouType: config.iouType, labelSmoothing: config.labelSmoothing,
    }),
    optimizer: new ReferenceOptimizer(parameterGroups(model, config), { type: config.optimizer, momentum: config.momentum, nesterov: config.nesterov }),
    ema: config.ema ? new ModelEMA(model.params.map((p) => model.variable(p.key)), { decay: config.emaDecay }) : null,
    trainLoader: null, epoch: resumed?.state.epochsDone ?? config.initEpoch, step: resumed?.state.step ?? 0, stepsPerEpoch: 0, batchSize: 0, lr: 0,
    best: resumed?.state.best ?? null, bestValLoss: resumed?.state.bestValLoss ?? null,
    history: { epochs: resumed ? [...resumed.state.history] : [], pt: null }, stopReason: null, log,
  };
  if (resumed) {
    ctx.optimizer.setState(resumed.optimizerState);
    tf.dispose(Object.values(resumed.optimizerState.slots));
    if (ctx.ema && resumed.ema) ctx.ema.load(resumed.ema.values, resumed.ema.updates);
    if (resumed.ema) tf.dispose(Object.values(resumed.ema.values));
  }
  const warning = resumed ? null : stepWarning(config, trainSamples.length);
  if (warning) log(`warning: ${warning}`);
  const callbacks: TrainCallback[] = [
    ...(valSamples.length > 0 ? [validationCallback(valSamples, { cache: config.cache })] : []),
    checkpointCallback(), historyCallback({ plot: opts.plot ?? true }), progressCallback({ silent: opts.quiet ?? false }),
    ...(opts.callbacks ?? []),
  ];
  const emit = async <K extends keyof TrainCallback>(hook: K, ...args: Parameters<NonNullable<TrainCallback[K]>>) => {
    for (const cb of callbacks) await (cb[hook] as ((...a: unknown[]) => unknown) | undefined)?.apply(cb, args);
  };
  const onAbort = () => (ctx.stopReason ??= String(opts.signal?.reason ?? 'stopped'));
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) onAbort();
  let status: TrainStatus = 'completed';
  let phase: { frozen: boolean; batchSize: number } | null = null;
  try {
    await emit('onTrainStart', ctx);
    for (; ctx.epoch < config.epochs && ctx.stopReason === null; ctx.epoch++) {
      const next = phaseAt(config, ctx.epoch);
      if (phase === null || next.frozen !== phase.frozen || next.batchSize !== phase.batchSize) {
        phase = next;
        if (phase.frozen) model.freezeBackbone();
        else model.unfreezeBackbone();
        await ctx.trainLoader?.close();
        ctx.trainLoader = createLoader(trainSamples, {
          inputShape: config.inputShape, batchSize: phase.batchSize, train: true, mosaic: config.mosaic, mosaicProb: config.mosaicProb,
          mixup: config.mixup, mixupProb: config.mixupProb, specialAugRatio: config.specialAugRatio, epochs: config.epochs,
          jitter: config.jitter, scale: [config.scaleMin, config.scaleMax],
          seed: config.seed, workers: config.workers, cache: config.cache,
        });
      }
      const loader = ctx.trainLoader as NonNullable<TrainContext['trainLoader']>;
      const fitted = fitLearningRates({ optimizer: config.optimizer, batchSize: phase.batchSize, initLr: config.lr, minLr: config.minLr });
      const lrAt = (e: number) => learningRateAt(e, { type: config.schedule, lr: fitted.lr, minLr: fitted.minLr, totalEpochs: config.epochs });
      Object.assign(ctx, { batchSize: phase.batchSize, stepsPerEpoch: loader.length, lr: lrAt(ctx.epoch) });
      await emit('onEpochStart', ctx);
      const meter = new LossMeter();
      const t0 = performance.now();
      let epochStep = 0;
      for await (const batch of loader.epoch(ctx.epoch)) {
        if (ctx.stopReason !== null) break;
        if (config.scheduleEvery === 'iteration') ctx.lr = lrAt(ctx.epoch + epochStep / ctx.stepsPerEpoch);
        const { loss, parts } = trainStep(ctx, batch);
        ctx.step++;
        meter.add(loss, parts);
        const info: StepInfo = { epochStep, batch, loss, parts };
        await emit('onStep', ctx, info);
        epochStep++;
      }
      if (ctx.stopReason !== null) break;
      const record: EpochRecord = {
        epoch: ctx.epoch + 1, lr: lrAt(ctx.epoch), batchSize: phase.batchSize, backboneFrozen: phase.frozen, train: meter.mean(),
        val: null, map: null, mapCoco: null, metric: config.evalMetric, seconds: (performance.now() - t0) / 1000, valSeconds: 0, step: ctx.step,
      };
      ctx.history.epochs.push(record);
      await emit('onEpochEnd', ctx, record);
    }
    if (ctx.stopReason !== null) {
      status = 'interrupted';
      log(`training interrupted (${ctx.stopReason}) in epoch ${ctx.epoch + 1}`);
    }
  } catch (err) {
    status = err instanceof NonFiniteLossError ? 'diverged' : status;
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    try {
      await emit('onTrainEnd', ctx, status);
    } finally {
      await ctx.trainLoader?.close();
      ctx.optimizer.dispose();
      ctx.ema?.dispose();
    }
  }
  return { status, runDir, epochsDone: Math.min(ctx.epoch, config.epochs), best: ctx.best, history: ctx.history };
}

/**
 * Trains YOLOv4 or YOLOv4-tiny with the reference's recipe: options from {@link loadTrainConfig},
 * a run folder `<saveDir>/<name>` (numbered if taken) with `weights/{last,best,epNNN-…}`,
 * `history.json`, `history.csv` and `history.png`. The model is freed when the run ends; load the
 * saved checkpoints to use it.
 *
 * @example
 * ```ts
 * import { initBackend, loadTrainConfig, train } from 'focal-yolo';
 * await initBackend();
 * const config = loadTrainConfig({ overrides: { data: 'data/shapes/data.yaml', inputShape: 224, epochs: 30, focalLoss: true } });
 * const { runDir, best } = await train(config);
 * console.log(`best mAP@0.5 ${best?.map} in ${runDir}/weights/best`);
 * ```
 */
export async function train(config: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  validateTrainConfig(config);
  const log = opts.log ?? ((line: string) => console.error(line));
  const names = readDatasetConfig(config.data).names;
  const model = createYolo({
    variant: config.variant, numClasses: names.length, inputShape: config.inputShape, phi: config.phi,
    priorObjectnessBias: config.priorObjectnessBias ? 0.01 : undefined, seed: config.seed,
  });
  try {
    if (config.weights !== '') await loadInitialWeights(model, config.weights, log);
    return await run({ config, runDir: newRunDir(config), model, resumed: null }, opts);
  } finally {
    model.dispose();
  }
}

/** Options a resumed run may change (they do not alter what was already trained). */
export const RESUME_OVERRIDABLE: readonly (keyof TrainConfig)[] = ['epochs', 'workers', 'evalPeriod', 'savePeriod', 'skipBadSamples', 'cache'];

/** The `weights/last` folder of a run folder or of a checkpoint path. */
export function resumeCheckpointDir(path: string): string {
  const abs = resolve(path);
  if (existsSync(join(abs, SIDECAR_FILE))) return abs;
  const last = join(abs, 'weights', 'last');
  if (existsSync(join(last, SIDECAR_FILE))) return last;
  throw new Error(`resume: ${path} is neither a run folder with weights/last nor a checkpoint folder; give e.g. runs/train/exp`);
}

/**
 * Continues an interrupted run from its `weights/last` with the same options, optimizer state,
 * schedule position, EMA and data order: the result equals that of the uninterrupted run.
 *
 * @example
 * ```ts
 * await resumeTraining('runs/train/exp');                      // the epochs it had left
 * await resumeTraining('runs/train/exp', { overrides: { epochs: 400 } });
 * ```
 */
export async function resumeTraining(path: string, opts: TrainOptions & { overrides?: Partial<TrainConfig> } = {}): Promise<TrainResult> {
  const dir = resumeCheckpointDir(path);
  const resumed = await loadTrainingCheckpoint(dir);
  try {
    const config = { ...resumed.state.config };
    for (const [key, value] of Object.entries(opts.overrides ?? {})) {
      if (value === undefined || JSON.stringify(value) === JSON.stringify(config[key as keyof TrainConfig])) continue;
      if (!RESUME_OVERRIDABLE.includes(key as keyof TrainConfig)) {
        throw new Error(`resume: option '${key}' cannot change when resuming (only ${RESUME_OVERRIDABLE.join(', ')}); start a new run instead`);
      }
      (config as Record<string, unknown>)[key] = value;
    }
    validateTrainConfig(config);
    if (resumed.state.epochsDone >= config.epochs) {
      throw new Error(`resume: ${dir} already finished ${resumed.state.epochsDone} of ${config.epochs} epochs; pass a larger epochs to train on`);
    }
    const runDir = basename(dir) === 'last' && basename(dirname(dir)) === 'weights' ? dirname(dirname(dir)) : dirname(dir);
    return await run({ config, runDir, model: resumed.model, resumed }, opts);
  } finally {
    resumed.model.dispose();
  }
}
