/**
 * The training curves as a PNG: a vega-lite spec rendered to SVG by vega's headless view, then
 * rasterised by sharp. Four panels: total loss (train, val), loss parts, learning rate, mAP@0.5.
 */
import sharp from 'sharp';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { EpochRecord } from './history.js';

const PANELS = ['total loss', 'loss parts (train)', 'learning rate', 'val mAP@0.5'] as const;

interface Point {
  panel: string;
  series: string;
  epoch: number;
  value: number;
}

/** The long-format points of the four panels. */
function points(epochs: readonly EpochRecord[]): Point[] {
  const out: Point[] = [];
  const push = (panel: string, series: string, epoch: number, value: number | null | undefined) => {
    if (value !== null && value !== undefined && Number.isFinite(value)) out.push({ panel, series, epoch, value });
  };
  for (const e of epochs) {
    push('total loss', 'train', e.epoch, e.train.loss);
    push('total loss', 'val', e.epoch, e.val?.loss);
    for (const part of ['box', 'objPositive', 'objNegative', 'cls'] as const) {
      push('loss parts (train)', part, e.epoch, e.train[part]);
    }
    push('learning rate', 'lr', e.epoch, e.lr);
    push('val mAP@0.5', `mAP@0.5 (${e.metric})`, e.epoch, e.map);
  }
  return out;
}

/**
 * Renders the curves of `epochs` as PNG bytes.
 *
 * @example
 * ```ts
 * writeFileSync('history.png', await renderHistoryPng(history.epochs));
 * ```
 */
export async function renderHistoryPng(epochs: readonly EpochRecord[]): Promise<Uint8Array> {
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: points(epochs) },
    facet: { field: 'panel', type: 'nominal', title: null, sort: [...PANELS], header: { labelFontSize: 13 } },
    columns: 2,
    spec: {
      width: 320,
      height: 180,
      mark: { type: 'line', point: epochs.length < 30 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { y: 'independent', color: 'independent' } },
    config: { font: 'DejaVu Sans', background: 'white' },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return new Uint8Array(await sharp(Buffer.from(svg)).png().toBuffer());
}
