/**
 * The standard callbacks of a run: validation (loss every epoch, mAP every evalPeriod), checkpoints
 * (last, best, every savePeriod), history files, and the progress bar with the loss parts.
 */
import { join } from 'node:path';
import { createLoader, type Sample } from '../data/index.js';
import { ProgressBar } from '../util/progress.js';
import { saveTrainingCheckpoint } from './checkpoint.js';
import type { TrainCallback, TrainContext } from './context.js';
import { LossMeter, writeHistory, type EpochRecord } from './history.js';
import { validate } from './validate.js';

/** With EMA, runs `fn` with the averaged weights in the model, then puts the trained ones back. */
async function withAveragedWeights<T>(ctx: TrainContext, fn: () => Promise<T>): Promise<T> {
  if (ctx.ema === null) return fn();
  ctx.ema.swap();
  try {
    return await fn();
  } finally {
    ctx.ema.swap();
  }
}

/** Whether epoch `epoch` (0-based) evaluates mAP: every evalPeriod epochs, and the last epoch. */
export function isEvalEpoch(epoch: number, evalPeriod: number, epochs: number): boolean {
  return evalPeriod > 0 && ((epoch + 1) % evalPeriod === 0 || epoch + 1 === epochs);
}

/**
 * Validation on `samples`: the loss (eval mode) every epoch, mAP@0.5 on evaluation epochs, and the
 * objectness p_t histograms at the last epoch. Fills `record.val`, `record.map`, `record.mapCoco`.
 *
 * @example
 * ```ts
 * const cb = validationCallback(valSet.samples);
 * ```
 */
export function validationCallback(samples: Sample[], { workers = 0, cache = 'none' }: { workers?: number; cache?: 'none' | 'ram' } = {}): TrainCallback {
  let loader: ReturnType<typeof createLoader> | null = null;
  return {
    onTrainStart(ctx) {
      const batchSize = Math.min(ctx.config.batchSize, samples.length);
      loader = createLoader(samples, {
        inputShape: ctx.config.inputShape, batchSize, train: false, shuffle: false, dropLast: false,
        seed: ctx.config.seed, epochs: ctx.config.epochs, workers, cache,
      });
    },
    async onEpochEnd(ctx, record) {
      if (loader === null) return;
      const l = loader;
      const t0 = performance.now();
      const { epoch, config } = ctx;
      const metric = isEvalEpoch(epoch, config.evalPeriod, config.epochs) ? config.evalMetric : undefined;
      const last = epoch + 1 === config.epochs;
      const r = await withAveragedWeights(ctx, () => validate(ctx.model, l, ctx.yoloLoss, epoch, { metric, pt: last }));
      record.val = r.loss;
      record.map = r.map;
      record.mapCoco = r.mapCoco;
      if (r.pt) ctx.history.pt = r.pt;
      record.valSeconds = (performance.now() - t0) / 1000;
    },
    async onTrainEnd() {
      await loader?.close();
      loader = null;
    },
  };
}

/** The reference's periodic checkpoint name: `ep010-loss4.123-val_loss3.987`. */
export function periodicCheckpointName(record: EpochRecord): string {
  const val = record.val ? record.val.loss.toFixed(3) : 'na';
  return `ep${String(record.epoch).padStart(3, '0')}-loss${record.train.loss.toFixed(3)}-val_loss${val}`;
}

/**
 * Checkpoints in `<runDir>/weights/`: `last` every epoch with everything needed to resume;
 * `best` when the validation mAP@0.5 improves (by validation loss when the run never evaluates mAP);
 * `epNNN-…` every savePeriod epochs and at the end; `interrupted` when the run is stopped mid-epoch.
 * With EMA, `best`, `epNNN` and `interrupted` hold the averaged weights.
 *
 * @example
 * ```ts
 * const cb = checkpointCallback();
 * ```
 */
export function checkpointCallback(): TrainCallback {
  const dir = (ctx: TrainContext, name: string) => join(ctx.runDir, 'weights', name);
  const meta = (ctx: TrainContext) => ({ classNames: ctx.classNames, anchors: ctx.anchors, anchorsMask: ctx.anchorsMask });
  const saveWeights = (ctx: TrainContext, name: string, training: Record<string, unknown>) =>
    withAveragedWeights(ctx, () => saveTrainingCheckpoint(ctx.model, dir(ctx, name), { ...meta(ctx), training }));
  let savedStep = 0; // optimizer steps covered by weights/last
  return {
    onTrainStart(ctx) {
      savedStep = ctx.step;
    },
    async onEpochEnd(ctx, record) {
      const { config } = ctx;
      const summary = { epoch: record.epoch, step: ctx.step, map: record.map, valLoss: record.val?.loss ?? null, ema: ctx.ema !== null };
      let improved = false;
      if (config.evalPeriod > 0 && record.val !== null) {
        if (record.map !== null && (ctx.best === null || record.map > ctx.best.map)) {
          ctx.best = { map: record.map, epoch: record.epoch };
          improved = true;
        }
      } else {
        const loss = record.val?.loss ?? record.train.loss;
        if (ctx.bestValLoss === null || loss <= ctx.bestValLoss) improved = true;
      }
      const loss = record.val?.loss ?? record.train.loss;
      ctx.bestValLoss = ctx.bestValLoss === null ? loss : Math.min(ctx.bestValLoss, loss);
      if (improved) await saveWeights(ctx, 'best', summary);
      if (record.epoch % config.savePeriod === 0 || record.epoch === config.epochs) {
        await saveWeights(ctx, periodicCheckpointName(record), summary);
      }
      await saveTrainingCheckpoint(ctx.model, dir(ctx, 'last'), {
        ...meta(ctx),
        training: summary,
        state: {
          config, epochsDone: ctx.epoch + 1, step: ctx.step, best: ctx.best, bestValLoss: ctx.bestValLoss,
          rng: { seed: config.seed, nextEpoch: ctx.epoch + 1 }, history: ctx.history.epochs,
        },
        optimizer: ctx.optimizer,
        ema: ctx.ema ?? undefined,
      });
      savedStep = ctx.step;
    },
    async onTrainEnd(ctx, status) {
      if (status !== 'interrupted' || ctx.step === savedStep) return; // nothing trained since weights/last
      await saveWeights(ctx, 'interrupted', { epoch: ctx.epoch, step: ctx.step, partialEpoch: true });
      ctx.log(`saved the weights of the unfinished epoch ${ctx.epoch + 1} to ${dir(ctx, 'interrupted')}; resume continues from ${dir(ctx, 'last')}`);
    },
  };
}

/**
 * Writes `history.json`, `history.csv` and `history.png` in the run folder after every epoch.
 *
 * @example
 * ```ts
 * const cb = historyCallback({ plot: false });
 * ```
 */
export function historyCallback({ plot = true }: { plot?: boolean } = {}): TrainCallback {
  return {
    async onEpochEnd(ctx) {
      await writeHistory(ctx.runDir, ctx.history, { plot });
    },
  };
}

const fmt = (x: number) => (Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2));

/**
 * A progress bar per epoch (rate, ETA, running loss parts, positives per batch, learning rate) and
 * one summary line per epoch.
 *
 * @example
 * ```ts
 * const cb = progressCallback({ silent: false });
 * ```
 */
export function progressCallback({ silent = false }: { silent?: boolean } = {}): TrainCallback {
  let bar: ProgressBar | null = null;
  let meter = new LossMeter();
  return {
    onEpochStart(ctx) {
      meter = new LossMeter();
      bar = new ProgressBar({ label: `Epoch ${ctx.epoch + 1}/${ctx.config.epochs}`, total: ctx.stepsPerEpoch, unit: 'batch', silent });
    },
    onStep(ctx, s) {
      meter.add(s.loss, s.parts);
      const m = meter.mean();
      bar?.tick(
        1,
        `loss ${fmt(m.loss)} box ${fmt(m.box)} obj+ ${fmt(m.objPositive)} obj- ${fmt(m.objNegative)} cls ${fmt(m.cls)} ` +
          `pos ${m.positives.toFixed(1)} lr ${ctx.lr.toExponential(2)}`,
      );
      if (s.epochStep + 1 === ctx.stepsPerEpoch) bar?.done();
    },
    onEpochEnd(ctx, r) {
      bar?.done();
      if (silent) return;
      const val = r.val ? ` || Val Loss: ${r.val.loss.toFixed(3)}` : '';
      const map = r.map !== null ? ` || mAP@0.5 (${r.metric}): ${r.map.toFixed(4)}` : '';
      ctx.log(`Epoch ${r.epoch}/${ctx.config.epochs}: Total Loss: ${r.train.loss.toFixed(3)}${val}${map} (${r.seconds.toFixed(1)} s + val ${r.valSeconds.toFixed(1)} s)`);
    },
  };
}
