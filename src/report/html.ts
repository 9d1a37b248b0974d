/**
 * The report page: one self-contained HTML file (inline SVG charts, PNG images as data URIs, inline
 * CSS, no script, nothing fetched). One run gives the training report; two give the comparison with
 * the same sections side by side.
 */
import { learningRateCurve, lossCurves, mapCurve, objectnessSplit, objectnessSplitChart, prCurves, ptHistogramChart } from './charts.js';
import type { RunReport } from './types.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&quot;' })[c] as string);
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(2)}%`);
const num = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(4) : v.toExponential(2));

function figure(id: string, caption: string, svg: string): string {
  return `<figure data-figure="${id}">${svg}<figcaption>${caption}</figcaption></figure>`;
}

function formatValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The options table: one value column per run, rows that differ between runs marked. */
function configTable(runs: readonly RunReport[]): string {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.config ?? {})))];
  if (keys.length === 0) return '<p class="note">No training options recorded (weights/last/train-state.json is missing).</p>';
  const head = `<tr><th>option</th>${runs.map((r) => `<th>${escapeHtml(r.label)}</th>`).join('')}</tr>`;
  const rows = keys.map((k) => {
    const cells = runs.map((r) => (r.config && k in r.config ? formatValue(r.config[k]) : '–'));
    const differs = runs.length > 1 && new Set(cells).size > 1;
    return `<tr${differs ? ' class="differs"' : ''}><td>${escapeHtml(k)}</td>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table class="config">${head}${rows.join('')}</table>`;
}

/** Headline numbers per run: epochs, final losses, best and final mAP, evaluated mAP. */
function summaryTable(runs: readonly RunReport[]): string {
  const row = (r: RunReport) => {
    const last = r.epochs[r.epochs.length - 1];
    const maps = r.epochs.filter((e) => e.map !== null);
    const best = maps.reduce<RunReport['epochs'][number] | null>((b, e) => (b === null || (e.map ?? 0) > (b.map ?? 0) ? e : b), null);
    const split = last ? objectnessSplit(last.train) : null;
    const objTotal = split ? split.positives + split.hardNegatives + split.easyNegatives : 0;
    return `<tr><td>${escapeHtml(r.label)}</td><td>${r.epochs.length}</td><td>${last ? num(last.train.loss) : '–'}</td>` +
      `<td>${last?.val ? num(last.val.loss) : '–'}</td><td>${best ? `${pct(best.map)} (epoch ${best.epoch})` : '–'}</td>` +
      `<td>${pct(r.evaluation?.result.map)}</td><td>${split && objTotal > 0 ? pct(split.easyNegatives / objTotal) : '–'}</td></tr>`;
  };
  return '<table><tr><th>run</th><th>epochs</th><th>train loss</th><th>val loss</th><th>best val mAP@0.5</th>' +
    `<th>mAP of the evaluated weights</th><th>easy-negative share of objectness (last epoch)</th></tr>${runs.map(row).join('')}</table>`;
}

/** Per-class AP with the ground-truth and detection counts, three columns per run (their validation sets may differ). */
function apTable(runs: readonly RunReport[]): string {
  const evaluated = runs.filter((r) => r.evaluation);
  if (evaluated.length === 0) return '<p class="note">No evaluation (see the notes above).</p>';
  const names = evaluated[0].classNames;
  const metricName = evaluated[0].evaluation?.result.metric === 'coco' ? 'AP50 (COCO 101-point)' : 'AP@0.5 (VOC all-point)';
  const prefix = (r: RunReport) => (evaluated.length > 1 ? `${escapeHtml(r.label)}: ` : '');
  const head = `<tr><th>class</th>${evaluated.map((r) => `<th>${prefix(r)}ground truth</th><th>${prefix(r)}${metricName}</th><th>${prefix(r)}detections</th>`).join('')}</tr>`;
  const apOf = (r: RunReport, c: number) => {
    const res = r.evaluation?.result;
    return res?.metric === 'coco' ? res.coco?.perClassAp50[c] : res?.perClass[c];
  };
  const rows = names.map((name, c) =>
    `<tr><td>${escapeHtml(name)}</td>` +
    evaluated.map((r) => `<td>${r.evaluation?.result.groundTruthCount[c] ?? 0}</td><td>${pct(apOf(r, c))}</td><td>${r.evaluation?.result.detectionCount[c] ?? 0}</td>`).join('') + '</tr>');
  const mean = `<tr class="mean"><td>mean</td>${evaluated.map((r) => `<td></td><td>${pct(r.evaluation?.result.map)}</td><td></td>`).join('')}</tr>`;
  return `<table class="ap">${head}${rows.join('')}${mean}</table>`;
}

function gridSection(runs: readonly RunReport[]): string {
  const items = runs.filter((r) => r.grid).map((r) =>
    `<figure data-figure="grid-${escapeHtml(r.label)}"><img alt="validation images of ${escapeHtml(r.label)}" src="data:image/jpeg;base64,${Buffer.from(r.grid as Uint8Array).toString('base64')}">` +
    `<figcaption>${escapeHtml(r.label)}: predictions from ${escapeHtml(r.evaluation?.weights ?? '')} in class colours with scores; ground truth dashed white</figcaption></figure>`);
  return items.length > 0 ? `<div class="side">${items.join('')}</div>` : '<p class="note">No validation images (see the notes above).</p>';
}

const STYLE = `body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px auto;max-width:1600px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f3f3f3}tr.differs td{background:#fff3cd}tr.mean td{font-weight:bold}
figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}figcaption{font-size:.85em;color:#555;max-width:900px}
.side{display:flex;flex-wrap:wrap;gap:16px}.note{color:#8a6d3b}img{max-width:100%}`;

/**
 * The report HTML of one run, or the side-by-side comparison of several (BCE vs focal).
 *
 * @example
 * ```ts
 * const html = await renderReportHtml([await collectRunReport('runs/train/exp')]);
 * ```
 */
export async function renderReportHtml(runs: readonly RunReport[], { title }: { title?: string } = {}): Promise<string> {
  if (runs.length === 0) throw new Error('renderReportHtml: no runs given; pass at least one collected run');
  const heading = title ?? (runs.length === 1 ? `focal-yolo training report: ${runs[0].label}` : `focal-yolo comparison: ${runs.map((r) => r.label).join(' vs ')}`);
  const notes = runs.flatMap((r) => r.notes.map((n) => `<li>${escapeHtml(r.label)}: ${escapeHtml(n)}</li>`));
  const [loss, lr, map, split, pt, pr] = await Promise.all([
    lossCurves(runs), learningRateCurve(runs), mapCurve(runs), objectnessSplitChart(runs), ptHistogramChart(runs), prCurves(runs),
  ]);
  const hasPt = runs.some((r) => r.pt);
  const hasEval = runs.some((r) => r.evaluation);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(heading)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(heading)}</h1>
<p>${runs.map((r) => `<code>${escapeHtml(r.runDir)}</code>`).join(' · ')} · written ${new Date().toISOString()}</p>
${notes.length > 0 ? `<ul class="note">${notes.join('')}</ul>` : ''}
<h2>Summary</h2>
${summaryTable(runs)}
<h2>Loss curves</h2>
${figure('loss', 'Epoch means of each loss part: training solid, validation dashed. Objectness is split into positive cells and non-ignored negative cells.', loss)}
${figure('lr', 'Learning rate at the start of each epoch.', lr)}
<h2>Validation mAP</h2>
${figure('map', 'Validation mAP@0.5 on the epochs that evaluated it.', map)}
<h2>Focal view: where the objectness loss comes from</h2>
<p>With BCE the many easy negatives (background cells the network already rejects, p &lt; 0.1) add up to a large share of the objectness loss; the focal term (1 − p<sub>t</sub>)<sup>γ</sup> scales them down so that positives and hard negatives dominate.</p>
${figure('objectness-split', 'Training objectness loss per epoch, stacked: positives, hard negatives, easy negatives (p &lt; 0.1).', split)}
${hasPt ? figure('pt-histogram', 'p<sub>t</sub> at the last epoch on the validation set (positives: p; negatives: 1 − p), as the share of each group\'s cells per bin.', pt) : '<p class="note">No p_t histograms (recorded at the last epoch of a run with a validation split).</p>'}
<h2>Per-class AP</h2>
${apTable(runs)}
${hasEval ? figure('pr', 'Precision/recall per class (precision envelope, as AP integrates it).', pr) : ''}
<h2>Validation images</h2>
${gridSection(runs)}
<h2>Configuration</h2>
${configTable(runs)}
</body></html>
`;
}
