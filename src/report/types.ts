/** What a report shows about one training run, gathered from its folder (see collect.ts). */
import type { EvaluationResult } from '../eval/index.js';
import type { Histogram, LossSummary } from '../train/index.js';

/** One epoch of a run's `history.json`, as far as the report reads it. */
export interface ReportEpoch {
  epoch: number;
  lr: number;
  train: ReportLossParts;
  val: ReportLossParts | null;
  map: number | null;
  metric: 'voc' | 'coco';
}

/** Epoch means of the loss parts: history.json's `LossSummary`, written by the trainer. */
export type ReportLossParts = LossSummary;

/** A histogram over [0, 1]: `edges.length = counts.length + 1` (history.json's `Histogram`). */
export type ReportHistogram = Histogram;

/** The validation evaluation of a run's chosen weights. */
export interface ReportEvaluation {
  /** The checkpoint evaluated (`weights/best` or `weights/last`). */
  weights: string;
  result: EvaluationResult;
  /** Validation images evaluated. */
  images: number;
}

/** Everything the HTML report of one run shows. */
export interface RunReport {
  /** Short name shown in headings and legends (the folder name by default). */
  label: string;
  runDir: string;
  /** The run's options (train-state.json's `config`); null when the run left none. */
  config: Record<string, unknown> | null;
  classNames: string[];
  epochs: ReportEpoch[];
  /** p_t of the objectness at the last epoch on the validation set; null when not recorded. */
  pt: { positives: ReportHistogram; negatives: ReportHistogram } | null;
  evaluation: ReportEvaluation | null;
  /** JPEG of validation images with ground truth and predictions; null without a validation split. */
  grid: Uint8Array | null;
  /** Why a section is missing (e.g. no validation split), shown in the report. */
  notes: string[];
}
