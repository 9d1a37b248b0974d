/**
 * Gathering what a report shows from a training run folder: `history.json` (loss parts, learning
 * rate, mAP, p_t histograms), the options in `weights/last/train-state.json`, and a fresh evaluation
 * of `weights/best` (or `last`) on the validation split: per-class AP, PR curves and a grid of images.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readSplit, type Dataset } from '../data/index.js';
import { Detector, evaluateDetector } from '../infer/index.js';
import { MODEL_FILE } from '../models/index.js';
import { renderValidationGrid } from './grid.js';
import type { ReportEpoch, ReportHistogram, RunReport } from './types.js';

/** Options of {@link collectRunReport}. */
export interface CollectOptions {
  /** Name shown for the run (default: the folder name). */
  label?: string;
  /** Validation images in the grid (default 12). */
  gridImages?: number;
  /** Smallest score drawn in the grid (default 0.2: focal-trained objectness scores run low). */
  displayConfidence?: number;
  /** Skip the evaluation and the grid (history only). */
  evaluate?: boolean;
}

interface HistoryFile {
  epochs: ReportEpoch[];
  pt: { positives: ReportHistogram; negatives: ReportHistogram } | null;
}

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${what} ${path} cannot be read (${(err as Error).message.split('\n')[0]}): is this a training run folder?`);
  }
}

/** The run's training options from its last checkpoint, or null. */
function readRunConfig(runDir: string): Record<string, unknown> | null {
  const path = join(runDir, 'weights', 'last', 'train-state.json');
  if (!existsSync(path)) return null;
  const state = readJson<{ config?: Record<string, unknown> }>(path, 'training state');
  return state.config ?? null;
}

/** `weights/best`, else `weights/last`, else null. */
function chosenWeights(runDir: string): string | null {
  for (const name of ['best', 'last']) {
    const dir = join(runDir, 'weights', name);
    if (existsSync(join(dir, MODEL_FILE))) return dir;
  }
  return null;
}

/** Evenly spread indices: `n` of `0 … total−1`. */
function spread(total: number, n: number): number[] {
  const k = Math.min(total, n);
  return Array.from({ length: k }, (_, i) => Math.floor((i * total) / k));
}

/**
 * Reads a training run folder and evaluates its best weights on the validation split.
 *
 * @example
 * ```ts
 * const run = await collectRunReport('runs/train/exp');
 * console.log(run.evaluation?.result.map);
 * ```
 */
export async function collectRunReport(runDir: string, opts: CollectOptions = {}): Promise<RunReport> {
  const dir = resolve(runDir);
  if (!existsSync(join(dir, 'history.json'))) {
    throw new Error(`run folder ${runDir} has no history.json: give a training run folder such as runs/train/exp`);
  }
  const history = readJson<HistoryFile>(join(dir, 'history.json'), 'history');
  if (!Array.isArray(history.epochs)) throw new Error(`history ${join(dir, 'history.json')} has no epochs array: was it written by focal-yolo train?`);
  const config = readRunConfig(dir);
  const report: RunReport = {
    label: opts.label ?? basename(dir), runDir: dir, config, classNames: [], epochs: history.epochs, pt: history.pt ?? null,
    evaluation: null, grid: null, notes: [],
  };
  if (opts.evaluate === false) return report;
  const weights = chosenWeights(dir);
  const data = typeof config?.data === 'string' ? config.data : null;
  if (weights === null) report.notes.push('no weights/best or weights/last: per-class AP, PR curves and the image grid are left out');
  if (data === null || !existsSync(data)) report.notes.push(`the dataset YAML ${data ?? '(none recorded)'} is not there: per-class AP, PR curves and the image grid are left out`);
  if (weights === null || data === null || !existsSync(data)) return report;
  let dataset: Dataset;
  try {
    dataset = await readSplit(data, 'val');
  } catch (err) {
    report.notes.push(`no validation split to evaluate (${(err as Error).message})`);
    return report;
  }
  report.classNames = dataset.names;
  if (dataset.samples.length === 0) {
    report.notes.push('the validation split is empty');
    return report;
  }
  const detector = await Detector.load(weights);
  try {
    const metric = config?.evalMetric === 'coco' ? 'coco' : 'voc';
    const { result, detections } = await evaluateDetector(detector, dataset, { metric });
    report.evaluation = { weights, result, images: dataset.samples.length };
    const threshold = opts.displayConfidence ?? 0.2;
    const picked = spread(dataset.samples.length, opts.gridImages ?? 12);
    report.grid = await renderValidationGrid(
      picked.map((i) => {
        const d = detections[i];
        const kept = d.scores.flatMap((score, k) => (score >= threshold ? [k] : []));
        return {
          image: dataset.samples[i].image,
          boxes: dataset.samples[i].boxes,
          detections: kept.map((k) => ({
            box: d.boxes[k] as [number, number, number, number], score: d.scores[k], classId: d.classes[k], className: dataset.names[d.classes[k]] ?? `class${d.classes[k]}`,
          })),
        };
      }),
      { numClasses: dataset.names.length },
    );
  } finally {
    detector.model.dispose();
  }
  return report;
}
