/** Writing `report.html` into a run folder, comparing runs, and the training callback that does it at the end of a run. */
import { join, resolve } from 'node:path';
import type { TrainCallback } from '../train/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { collectRunReport, type CollectOptions } from './collect.js';
import { renderReportHtml } from './html.js';

/** The report's file name inside a run folder. */
export const REPORT_FILE = 'report.html';

/**
 * Writes `<runDir>/report.html` (self-contained) for a training run folder; returns its path.
 *
 * @example
 * ```ts
 * const path = await writeReport('runs/train/exp'); // runs/train/exp/report.html
 * ```
 */
export async function writeReport(runDir: string, opts: CollectOptions = {}): Promise<string> {
  const run = await collectRunReport(runDir, opts);
  const path = join(resolve(runDir), REPORT_FILE);
  await writeFileAtomic(path, await renderReportHtml([run]));
  return path;
}

/**
 * Writes the side-by-side report of two (or more) runs, e.g. BCE vs focal objectness, to `out`.
 *
 * @example
 * ```ts
 * await writeComparison(['runs/train/bce', 'runs/train/focal'], 'runs/compare.html');
 * ```
 */
export async function writeComparison(runDirs: readonly string[], out: string, opts: Omit<CollectOptions, 'label'> = {}): Promise<string> {
  if (runDirs.length < 2) throw new Error(`writeComparison: ${runDirs.length} run folder given; pass two or more (e.g. runs/train/bce runs/train/focal)`);
  const runs = [];
  for (const dir of runDirs) runs.push(await collectRunReport(dir, opts));
  // folders with the same name (runs/a/exp, runs/b/exp) get their parent in the label
  const labels = runs.map((r) => r.label);
  runs.forEach((r, i) => {
    if (labels.indexOf(r.label) !== labels.lastIndexOf(r.label)) r.label = `${r.label} (${i + 1})`;
  });
  await writeFileAtomic(resolve(out), await renderReportHtml(runs));
  return resolve(out);
}

/**
 * A training callback that writes `report.html` when a run completes (not when it is interrupted or diverges).
 *
 * @example
 * ```ts
 * await train(config, { callbacks: [reportCallback()] });
 * ```
 */
export function reportCallback(opts: CollectOptions = {}): TrainCallback {
  return {
    async onTrainEnd(ctx, status) {
      if (status !== 'completed') return;
      const path = await writeReport(ctx.runDir, opts);
      ctx.log(`report: ${path}`);
    },
  };
}
