/**
 * Learning rates as the reference computes them (reference-spec §4.2, §4.4): the batch-size
 * scaled maximum and minimum, and the warm cosine or step schedule over epochs.
 */

/** Optimizers of the reference. */
export type OptimizerType = 'sgd' | 'adam' | 'adamw';

/** Schedules of the reference. */
export type ScheduleType = 'cos' | 'step';

/** The nominal batch size the reference scales learning rates against. */
export const NOMINAL_BATCH_SIZE = 64;

/** The clamp bounds of the scaled learning rate per optimizer (§4.2). */
function bounds(optimizer: OptimizerType): { lrLimitMax: number; lrLimitMin: number } {
  return optimizer === 'sgd' ? { lrLimitMax: 5e-2, lrLimitMin: 5e-4 } : { lrLimitMax: 1e-3, lrLimitMin: 3e-4 };
}

const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);

/**
 * The reference's batch-size adaptive learning rates: `batch/64 · initLr` clamped to the optimizer's
 * range, and `batch/64 · minLr` clamped to a hundredth of it.
 *
 * @example
 * ```ts
 * fitLearningRates({ optimizer: 'sgd', batchSize: 8, initLr: 1e-2, minLr: 1e-4 }); // { lr: 1.25e-3, minLr: 1.25e-5 }
 * ```
 */
export function fitLearningRates(opts: { optimizer: OptimizerType; batchSize: number; initLr: number; minLr: number }): {
  lr: number;
  minLr: number;
} {
  const { lrLimitMax, lrLimitMin } = bounds(opts.optimizer);
  const ratio = opts.batchSize / NOMINAL_BATCH_SIZE;
  return {
    lr: clamp(ratio * opts.initLr, lrLimitMin, lrLimitMax),
    minLr: clamp(ratio * opts.minLr, lrLimitMin * 1e-2, lrLimitMax * 1e-2),
  };
}

/** Parameters of {@link learningRateAt}. */
export interface ScheduleOptions {
  type: ScheduleType;
  /** The maximum learning rate (after batch-size scaling). */
  lr: number;
  /** The final learning rate. */
  minLr: number;
  /** Total epochs of the run (the reference's UnFreeze_Epoch). */
  totalEpochs: number;
}

/**
 * The learning rate at (0-based, possibly fractional) epoch `epoch`. The reference evaluates it at
 * whole epochs, once at the start of each; pass `epoch + step / stepsPerEpoch` for a per-iteration schedule.
 *
 * "cos": YOLOX-style warm cosine: quadratic warm-up over min(max(0.05·T, 1), 3) epochs from
 * max(0.1·lr, 1e-6), cosine down to minLr, then minLr for the last min(max(0.05·T, 1), 15) epochs.
 * "step": ten equal steps, decaying geometrically from lr to minLr.
 *
 * @example
 * ```ts
 * learningRateAt(1, { type: 'cos', lr: 1.25e-3, minLr: 1.25e-5, totalEpochs: 300 }); // 2.5e-4
 * ```
 */
export function learningRateAt(epoch: number, opts: ScheduleOptions): number {
  const { lr, minLr, totalEpochs: total } = opts;
  if (!(total > 0)) throw new Error(`learningRateAt: totalEpochs ${total} must be positive`);
  if (opts.type === 'cos') {
    const warm = Math.min(Math.max(0.05 * total, 1), 3);
    const lrStart = Math.max(0.1 * lr, 1e-6);
    const noAug = Math.min(Math.max(0.05 * total, 1), 15);
    if (epoch <= warm) return (lr - lrStart) * (epoch / warm) ** 2 + lrStart;
    if (epoch >= total - noAug) return minLr;
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos((Math.PI * (epoch - warm)) / (total - warm - noAug)));
  }
  if (opts.type === 'step') {
    const steps = 10;
    const decay = (minLr / lr) ** (1 / (steps - 1));
    const stepSize = total / steps;
    return lr * decay ** Math.floor(epoch / stepSize);
  }
  throw new Error(`learningRateAt: schedule '${String(opts.type)}' must be 'cos' or 'step'`);
}
