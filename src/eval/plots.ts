/**
 * Precision/recall curve images: Vega-Lite specs rendered headless to SVG by Vega, then to PNG by
 * sharp. One chart per class (area under the curve shaded, as the reference's AP plots) and a
 * summary with every class.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { writeFileAtomic } from '../util/atomic.js';
import type { EvaluationResult, PrCurve } from './types.js';

async function renderPng(spec: vegaLite.TopLevelSpec): Promise<Buffer> {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG(2);
  view.finalize();
  return sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).png().toBuffer();
}

/** The points of a curve as a step line: precision made non-increasing from the right, as AP integrates it. */
function envelope(curve: PrCurve): { recall: number; precision: number }[] {
  const p = [...curve.precision];
  for (let i = p.length - 2; i >= 0; i--) p[i] = Math.max(p[i], p[i + 1]);
  const points = [{ recall: 0, precision: p[0] ?? 0 }];
  curve.recall.forEach((r, i) => points.push({ recall: r, precision: p[i] }));
  return points;
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'class';
}

/**
 * Writes `<dir>/pr_<class>.png` for every evaluated class and `<dir>/pr_curves.png` with all of them.
 *
 * @returns the paths written
 * @example
 * await writePrCurves(await evaluateDetections({ …, metric: 'voc' }), ['cat', 'dog'], 'runs/eval');
 */
export async function writePrCurves(result: EvaluationResult, classNames: string[], dir: string): Promise<string[]> {
  const written: string[] = [];
  const all: { class: string; recall: number; precision: number }[] = [];
  const label = result.metric === 'coco' ? 'IoU 0.5, 101-point' : 'all-point envelope';
  for (let c = 0; c < result.perClass.length; c++) {
    if (Number.isNaN(result.perClass[c])) continue;
    const name = classNames[c] ?? `class${c}`;
    const points = envelope(result.curves[c]);
    const apText = result.metric === 'coco' ? `AP50 ${((result.coco?.perClassAp50[c] ?? 0) * 100).toFixed(2)}%` : `AP ${(result.perClass[c] * 100).toFixed(2)}%`;
    const png = await renderPng({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: { text: `${name}: ${apText}`, subtitle: label },
      width: 360,
      height: 300,
      data: { values: points },
      mark: { type: 'area', line: true, interpolate: 'step-before', opacity: 0.35 },
      encoding: {
        x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] }, title: 'recall' },
        y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1.05] }, title: 'precision', stack: null },
      },
    });
    const path = join(dir, `pr_${fileSafe(name)}.png`);
    await writeFileAtomic(path, png);
    written.push(path);
    for (const p of points) all.push({ class: name, ...p });
  }
  const mapText = result.metric === 'coco' ? `mAP@[.5:.95] ${(result.map * 100).toFixed(2)}%` : `mAP ${(result.map * 100).toFixed(2)}%`;
  const png = await renderPng({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `Precision/recall: ${mapText}`, subtitle: label },
    width: 480,
    height: 360,
    data: { values: all },
    mark: { type: 'line', interpolate: 'step-before' },
    encoding: {
      x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
      y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1.05] } },
      color: { field: 'class', type: 'nominal' },
    },
  });
  const summary = join(dir, 'pr_curves.png');
  await writeFileAtomic(summary, png);
  written.push(summary);
  return written;
}
