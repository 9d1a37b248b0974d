/**
 * The report's figures: Vega-Lite specs compiled by vega-lite and rendered to SVG by vega's headless
 * view (no browser, no hand-written SVG). Every chart takes one or more runs; with two, the runs are
 * told apart by colour or by facet, so the single report and the comparison share the same charts.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { PrCurve } from '../eval/index.js';
import type { ReportLossParts, RunReport } from './types.js';

/** A run's objectness loss split three ways (same units as the loss parts). */
export interface ObjectnessSplit {
  positives: number;
  hardNegatives: number;
  easyNegatives: number;
}

/**
 * Splits the objectness loss of an epoch into positives, hard negatives and easy negatives (p < 0.1):
 * the easy share is of the whole objectness term, so easy = share · (obj⁺ + obj⁻) and hard = obj⁻ − easy.
 *
 * @example
 * objectnessSplit({ objPositive: 1, objNegative: 3, easyNegativeShare: 0.5, … }); // { positives: 1, hardNegatives: 1, easyNegatives: 2 }
 */
export function objectnessSplit(parts: Pick<ReportLossParts, 'objPositive' | 'objNegative' | 'easyNegativeShare'>): ObjectnessSplit {
  const easy = Math.min(parts.objNegative, Math.max(0, parts.easyNegativeShare) * (parts.objPositive + parts.objNegative));
  return { positives: parts.objPositive, hardNegatives: parts.objNegative - easy, easyNegatives: easy };
}

const FONT = 'DejaVu Sans';

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: vegaLite.TopLevelSpec): Promise<string> {
  const full = { config: { font: FONT, background: 'white' }, ...spec } as vegaLite.TopLevelSpec;
  const view = new vega.View(vega.parse(vegaLite.compile(full).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const finite = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

const LOSS_PANELS = ['total', 'box', 'objectness (positives)', 'objectness (negatives)', 'class', 'positive cells per batch'] as const;
const PART_OF_PANEL: Record<(typeof LOSS_PANELS)[number], keyof ReportLossParts> = {
  total: 'loss', box: 'box', 'objectness (positives)': 'objPositive', 'objectness (negatives)': 'objNegative', class: 'cls',
  'positive cells per batch': 'positives',
};

/** The legend name of a series: the split alone for one run, `run · split` for several. */
function seriesName(runs: readonly RunReport[], run: RunReport, split: string): string {
  return runs.length > 1 ? `${run.label} · ${split}` : split;
}

/**
 * Loss curves per part (total, box, objectness on positives and on negatives, class) and the
 * positive cells per batch: train solid and validation dashed, one panel each.
 */
export function lossCurves(runs: readonly RunReport[]): Promise<string> {
  const values: { panel: string; series: string; split: string; epoch: number; value: number }[] = [];
  for (const run of runs) {
    for (const e of run.epochs) {
      for (const panel of LOSS_PANELS) {
        const key = PART_OF_PANEL[panel];
        if (finite(e.train[key])) values.push({ panel, series: seriesName(runs, run, 'train'), split: 'train', epoch: e.epoch, value: e.train[key] });
        if (e.val && finite(e.val[key])) values.push({ panel, series: seriesName(runs, run, 'val'), split: 'val', epoch: e.epoch, value: e.val[key] });
      }
    }
  }
  return renderSvg({
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null, sort: [...LOSS_PANELS] },
    columns: 3,
    spec: {
      width: 250,
      height: 160,
      mark: { type: 'line', point: values.length < 400 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: null },
        strokeDash: { field: 'split', type: 'nominal', title: null, legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  });
}

/** Epoch-by-epoch line chart of one quantity per run (learning rate, validation mAP). */
function perEpochLine(runs: readonly RunReport[], title: string, yTitle: string, pick: (e: RunReport['epochs'][number]) => number | null, domain?: [number, number]): Promise<string> {
  const values = runs.flatMap((run) => run.epochs.flatMap((e) => {
    const v = pick(e);
    return finite(v) ? [{ run: run.label, epoch: e.epoch, value: v }] : [];
  }));
  return renderSvg({
    title,
    width: 420,
    height: 200,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
      y: { field: 'value', type: 'quantitative', title: yTitle, ...(domain ? { scale: { domain } } : { scale: { zero: false } }) },
      color: { field: 'run', type: 'nominal', title: null, legend: runs.length > 1 ? {} : null },
    },
  });
}

/** The learning rate at the start of each epoch. */
export function learningRateCurve(runs: readonly RunReport[]): Promise<string> {
  return perEpochLine(runs, 'learning rate', 'lr', (e) => e.lr);
}

/** Validation mAP@0.5 on the epochs that evaluated it. */
export function mapCurve(runs: readonly RunReport[]): Promise<string> {
  return perEpochLine(runs, 'validation mAP@0.5', 'mAP@0.5', (e) => e.map, [0, 1]);
}

/**
 * The focal view: the training objectness loss split into positives, hard negatives and easy
 * negatives, stacked per epoch (one panel per run).
 */
export function objectnessSplitChart(runs: readonly RunReport[]): Promise<string> {
  const parts = ['positives', 'hard negatives', 'easy negatives (p < 0.1)'] as const;
  const values = runs.flatMap((run) => run.epochs.flatMap((e) => {
    const s = objectnessSplit(e.train);
    return [s.positives, s.hardNegatives, s.easyNegatives].map((value, k) => ({ run: run.label, part: parts[k], order: k, epoch: e.epoch, value }));
  }));
  return renderSvg({
    data: { values },
    facet: { field: 'run', type: 'nominal', title: null },
    columns: 2,
    spec: {
      width: 360,
      height: 200,
      mark: { type: 'area', line: true, opacity: 0.75 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'value', type: 'quantitative', title: 'objectness loss (train)', stack: 'zero' },
        color: { field: 'part', type: 'nominal', title: null, sort: [...parts], legend: { labelLimit: 300 }, scale: { range: ['#d62728', '#ff7f0e', '#1f77b4'] } },
        order: { field: 'order', type: 'quantitative' },
      },
    },
  });
}

/**
 * Histograms of p_t at the last epoch (positives: p; negatives: 1 − p), as the share of each group's
 * cells per bin so positives (few) and negatives (many) read on one scale.
 */
export function ptHistogramChart(runs: readonly RunReport[]): Promise<string> {
  const values: { run: string; group: string; from: number; to: number; share: number }[] = [];
  for (const run of runs) {
    if (!run.pt) continue;
    for (const [group, h] of [['positives', run.pt.positives], ['negatives', run.pt.negatives]] as const) {
      const total = h.counts.reduce((a, b) => a + b, 0);
      h.counts.forEach((c, i) => values.push({ run: run.label, group, from: h.edges[i], to: h.edges[i + 1], share: total > 0 ? c / total : 0 }));
    }
  }
  return renderSvg({
    data: { values },
    facet: { row: { field: 'run', type: 'nominal', title: null }, column: { field: 'group', type: 'nominal', title: null, sort: ['positives', 'negatives'] } },
    spec: {
      width: 300,
      height: 170,
      mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
      encoding: {
        x: { field: 'from', type: 'quantitative', title: 'p_t', scale: { domain: [0, 1] } },
        x2: { field: 'to' },
        y: { field: 'share', type: 'quantitative', title: 'share of cells' },
        color: { field: 'group', type: 'nominal', legend: null, scale: { domain: ['positives', 'negatives'], range: ['#d62728', '#1f77b4'] } },
      },
    },
  });
}

/** The points of a PR curve as AP integrates it: precision made non-increasing from the right. */
export function precisionEnvelope(curve: PrCurve): { recall: number; precision: number }[] {
  const p = [...curve.precision];
  for (let i = p.length - 2; i >= 0; i--) p[i] = Math.max(p[i], p[i + 1]);
  return [{ recall: 0, precision: p[0] ?? 0 }, ...curve.recall.map((recall, i) => ({ recall, precision: p[i] }))];
}

/** Precision/recall curves of every evaluated class, one panel per class, runs by colour. */
export function prCurves(runs: readonly RunReport[]): Promise<string> {
  const values: { class: string; run: string; recall: number; precision: number }[] = [];
  const classes: string[] = [];
  for (const run of runs) {
    const result = run.evaluation?.result;
    if (!result) continue;
    result.curves.forEach((curve, c) => {
      if (Number.isNaN(result.perClass[c])) return;
      const name = run.classNames[c] ?? `class${c}`;
      if (!classes.includes(name)) classes.push(name);
      for (const p of precisionEnvelope(curve)) values.push({ class: name, run: run.label, ...p });
    });
  }
  return renderSvg({
    data: { values },
    facet: { field: 'class', type: 'nominal', title: null, sort: classes },
    columns: 4,
    spec: {
      width: 180,
      height: 150,
      mark: { type: 'line', interpolate: 'step-before' },
      encoding: {
        x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
        y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1.05] } },
        color: { field: 'run', type: 'nominal', title: null, legend: runs.length > 1 ? {} : null },
      },
    },
  });
}
