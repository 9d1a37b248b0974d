/**
 * What the training loop shares with its callbacks: the run's objects and position, and the
 * small callback interface (hooks around one loop, as detectron2's).
 */
import type { Batch, DataLoader } from '../data/index.js';
import type { Yolo } from '../models/index.js';
import type { YoloLoss } from '../yolo/index.js';
import type { TrainConfig } from './config.js';
import type { ModelEMA } from './ema.js';
import type { BatchLossParts, EpochRecord, TrainHistory } from './history.js';
import type { ReferenceOptimizer } from './optimizer.js';

/** The state of a run, readable by callbacks (they may set `stopReason` to end the run after the current step). */
export interface TrainContext {
  readonly config: TrainConfig;
  /** `<saveDir>/<name>` of this run. */
  readonly runDir: string;
  readonly model: Yolo;
  readonly yoloLoss: YoloLoss;
  readonly optimizer: ReferenceOptimizer;
  readonly ema: ModelEMA | null;
  readonly classNames: string[];
  readonly anchors: [number, number][];
  readonly anchorsMask: number[][];
  /** The training loader of the current phase. */
  trainLoader: DataLoader | null;
  /** Current 0-based epoch. */
  epoch: number;
  /** Optimizer steps so far (over the whole run). */
  step: number;
  /** Steps of the current epoch. */
  stepsPerEpoch: number;
  batchSize: number;
  /** Learning rate of the next step. */
  lr: number;
  /** Best validation mAP so far and its 1-based epoch. */
  best: { map: number; epoch: number } | null;
  bestValLoss: number | null;
  history: TrainHistory;
  /** Set (by a signal, or a callback) to stop after the current step; the run then ends as interrupted. */
  stopReason: string | null;
  /** Where messages go (one line each). */
  log: (line: string) => void;
}

/** One optimizer step, as callbacks see it. */
export interface StepInfo {
  /** 0-based step within the epoch. */
  epochStep: number;
  batch: Batch;
  loss: number;
  parts: BatchLossParts;
}

/** How a run ended. */
export type TrainStatus = 'completed' | 'interrupted' | 'diverged';

/**
 * A training callback: every hook is optional and may be async. Hooks run in list order; the
 * record passed to `onEpochEnd` is the one stored in the history, so earlier callbacks (validation)
 * fill it in for later ones (checkpoint, history files, progress).
 */
export interface TrainCallback {
  onTrainStart?(ctx: TrainContext): void | Promise<void>;
  onEpochStart?(ctx: TrainContext): void | Promise<void>;
  onStep?(ctx: TrainContext, step: StepInfo): void | Promise<void>;
  onEpochEnd?(ctx: TrainContext, record: EpochRecord): void | Promise<void>;
  onTrainEnd?(ctx: TrainContext, status: TrainStatus): void | Promise<void>;
}
