/** A running normaliser for focal losses: the number of positives, smoothed across steps. */

/** Options of {@link PositivesEma}. */
export interface PositivesEmaOptions {
  /** Starting value (detectron2: 100). */
  initial?: number;
  /** Weight of the previous value in each update, in [0, 1) (detectron2: 0.9). */
  momentum?: number;
}

/**
 * An exponential moving average of the number of positives per step, for `normalizer`: RetinaNet
 * divides the summed focal loss by the number of positive anchors, and detectron2 smooths that count
 * because with small batches it varies too much from step to step.
 * Each update is `value ← momentum·value + (1 − momentum)·max(positives, 1)`.
 *
 * @example
 * ```ts
 * import { PositivesEma, sigmoidFocalLoss } from 'focal-yolo';
 * const ema = new PositivesEma();                      // initial 100, momentum 0.9
 * const loss = sigmoidFocalLoss(labels, logits, { reduction: 'sum', normalizer: ema.update(numPositives) });
 * ```
 */
export class PositivesEma {
  private current: number;
  private readonly momentum: number;

  constructor({ initial = 100, momentum = 0.9 }: PositivesEmaOptions = {}) {
    if (!Number.isFinite(initial) || initial < 1) {
      throw new Error(`PositivesEma: initial = ${initial} is invalid; use a number ≥ 1 (e.g. 100).`);
    }
    if (!Number.isFinite(momentum) || momentum < 0 || momentum >= 1) {
      throw new Error(`PositivesEma: momentum = ${momentum} is invalid; use a number in [0, 1) (e.g. 0.9).`);
    }
    this.current = initial;
    this.momentum = momentum;
  }

  /** Adds this step's count of positives and returns the updated average. */
  update(positives: number): number {
    if (!Number.isFinite(positives) || positives < 0) {
      throw new Error(`PositivesEma.update: positives = ${positives} is invalid; pass the count of positive elements (≥ 0).`);
    }
    this.current = this.momentum * this.current + (1 - this.momentum) * Math.max(positives, 1);
    return this.current;
  }

  /** The current average. */
  get value(): number {
    return this.current;
  }
}
