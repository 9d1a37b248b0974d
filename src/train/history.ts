/**
 * The training history: one record per epoch (learning rate, train and validation loss parts, mAP),
 * written as `history.json`, `history.csv` and a PNG of the curves, refreshed every epoch.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { renderHistoryPng } from './plot.js';

/** Epoch means of the loss and its parts (reference-spec §2.9: the running mean of the batch totals). */
export interface LossSummary {
  loss: number;
  box: number;
  /** Objectness term from positive cells. */
  objPositive: number;
  /** Objectness term from non-ignored negative cells. */
  objNegative: number;
  cls: number;
  /** Positive cells per batch. */
  positives: number;
  /** Share of the objectness term from easy negatives (p < 0.1). */
  easyNegativeShare: number;
}

/** A histogram over [0, 1] in equal bins. */
export interface Histogram {
  /** Bin edges, bins + 1 values from 0 to 1. */
  edges: number[];
  counts: number[];
}

/** One epoch of training. */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Learning rate at the start of the epoch. */
  lr: number;
  batchSize: number;
  backboneFrozen: boolean;
  train: LossSummary;
  /** Validation loss parts (model in eval mode); null without a validation split. */
  val: LossSummary | null;
  /** Validation mAP@0.5 when evaluated this epoch (VOC or COCO AP50, see `metric`). */
  map: number | null;
  /** COCO mAP@[.5:.95] when the metric is COCO. */
  mapCoco: number | null;
  metric: 'voc' | 'coco';
  /** Wall-clock seconds of the training part of the epoch. */
  seconds: number;
  /** Wall-clock seconds of validation (loss, and mAP when evaluated). */
  valSeconds: number;
  /** Optimizer steps so far. */
  step: number;
}

/** `history.json`. */
export interface TrainHistory {
  epochs: EpochRecord[];
  /**
   * At the last epoch, on the validation set: p_t of the objectness (p for positives, 1 − p for the
   * non-ignored negatives), 20 bins.
   */
  pt: { positives: Histogram; negatives: Histogram } | null;
}

const PART_KEYS: (keyof LossSummary)[] = ['loss', 'box', 'objPositive', 'objNegative', 'cls', 'positives', 'easyNegativeShare'];

/** The CSV text of a history: one row per epoch, flat columns. */
export function historyCsv(epochs: readonly EpochRecord[]): string {
  const header = ['epoch', 'lr', 'batch_size', 'backbone_frozen', ...PART_KEYS.map((k) => `train_${k}`), ...PART_KEYS.map((k) => `val_${k}`), 'map50', 'map_coco', 'seconds', 'val_seconds', 'step'];
  const cell = (v: number | null | boolean) => (v === null ? '' : String(v));
  const rows = epochs.map((e) =>
    [
      e.epoch, e.lr, e.batchSize, e.backboneFrozen,
      ...PART_KEYS.map((k) => e.train[k]),
      ...PART_KEYS.map((k) => (e.val ? e.val[k] : null)),
      e.map, e.mapCoco, Number(e.seconds.toFixed(3)), Number(e.valSeconds.toFixed(3)), e.step,
    ].map(cell).join(','),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

/**
 * Writes `history.json`, `history.csv` and `history.png` into `dir` (each atomically).
 *
 * @example
 * ```ts
 * await writeHistory('runs/train/exp', { epochs, pt: null });
 * ```
 */
export async function writeHistory(dir: string, history: TrainHistory, { plot = true }: { plot?: boolean } = {}): Promise<void> {
  await writeFileAtomic(join(dir, 'history.json'), JSON.stringify(history, null, 1) + '\n');
  await writeFileAtomic(join(dir, 'history.csv'), historyCsv(history.epochs));
  if (plot && history.epochs.length > 0) await writeFileAtomic(join(dir, 'history.png'), await renderHistoryPng(history.epochs));
}

/** A histogram of `values` (all in [0, 1]) with `bins` equal bins. */
export function histogram(values: ArrayLike<number>, bins = 20): Histogram {
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 1)) continue;
    counts[Math.min(bins - 1, Math.floor(v * bins))]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => i / bins), counts };
}

/** Adds the counts of two histograms with the same bins. */
export function addHistograms(a: Histogram, b: Histogram): Histogram {
  return { edges: a.edges, counts: a.counts.map((c, i) => c + b.counts[i]) };
}

/** The parts of one batch's loss, as `YoloLoss.total` reports them. */
export interface BatchLossParts {
  box: number;
  objPositive: number;
  objNegative: number;
  cls: number;
  numPositives: number;
  easyNegativeShare: number;
}

/** Running means of the loss and its parts over the batches of an epoch. */
export class LossMeter {
  private readonly sum: LossSummary = { loss: 0, box: 0, objPositive: 0, objNegative: 0, cls: 0, positives: 0, easyNegativeShare: 0 };
  private n = 0;

  /** Adds one batch. */
  add(loss: number, parts: BatchLossParts): void {
    this.n++;
    this.sum.loss += loss;
    this.sum.box += parts.box;
    this.sum.objPositive += parts.objPositive;
    this.sum.objNegative += parts.objNegative;
    this.sum.cls += parts.cls;
    this.sum.positives += parts.numPositives;
    this.sum.easyNegativeShare += parts.easyNegativeShare;
  }

  /** Batches added. */
  get count(): number {
    return this.n;
  }

  /** The means so far (zeros before the first batch). */
  mean(): LossSummary {
    const d = Math.max(1, this.n);
    const s = this.sum;
    return {
      loss: s.loss / d, box: s.box / d, objPositive: s.objPositive / d, objNegative: s.objNegative / d, cls: s.cls / d,
      positives: s.positives / d, easyNegativeShare: s.easyNegativeShare / d,
    };
  }
}
