/**
 * Draws docs/img/focal-loss.svg and .png, in the spirit of Figure 1 of Lin et al. (2017): the focal
 * loss against the probability of the ground-truth class p_t for several γ. The curves are computed
 * with this library's `sigmoidFocalLoss` (α = null, label 1, logit = log(p_t / (1 − p_t))).
 *
 * Usage: node --import tsx scripts/plot-focal.ts [outDir]
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { initBackend } from '../src/backend/index.js';
import { sigmoidFocalLoss } from '../src/losses/index.js';

const GAMMAS = [0, 0.5, 1, 2, 5];
const Y_MAX = 5;

/** Writes a file atomically (temp + rename). */
function writeAtomic(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Loss against p_t for each γ, computed with sigmoidFocalLoss. */
function curves(): { pt: number; loss: number; gamma: string }[] {
  const pts = Array.from({ length: 400 }, (_, i) => 0.0025 + (i / 399) * 0.995);
  const logits = tf.tensor1d(pts.map((p) => Math.log(p / (1 - p))));
  const labels = tf.onesLike(logits);
  const rows: { pt: number; loss: number; gamma: string }[] = [];
  for (const gamma of GAMMAS) {
    const loss = sigmoidFocalLoss(labels, logits, { alpha: null, gamma, reduction: 'none' });
    const values = loss.dataSync();
    pts.forEach((pt, i) => {
      if (values[i] <= Y_MAX) rows.push({ pt, loss: values[i], gamma: gamma === 0 ? 'γ = 0 (cross-entropy)' : `γ = ${gamma}` });
    });
    loss.dispose();
  }
  tf.dispose([logits, labels]);
  return rows;
}

export async function plotFocal(outDir: string): Promise<string[]> {
  await initBackend({ prefer: 'cpu', quiet: true });
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 520,
    height: 340,
    background: 'white',
    title: { text: 'Focal loss: FL(p_t) = −(1 − p_t)^γ · log(p_t)', font: 'DejaVu Sans', fontSize: 15 },
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13 }, legend: { labelFontSize: 12, titleFontSize: 12 } },
    layer: [
      {
        data: { values: [{ from: 0.6, to: 1 }] },
        mark: { type: 'rect', color: '#eeeeee' },
        encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
      },
      {
        data: { values: [{ x: 0.8, y: 2.2, text: 'well-classified examples' }] },
        mark: { type: 'text', fontSize: 12, color: '#555555' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, text: { field: 'text' } },
      },
      {
        data: { values: curves() },
        mark: { type: 'line', strokeWidth: 2.2 },
        encoding: {
          x: { field: 'pt', type: 'quantitative', title: 'probability of ground truth class (p_t)', scale: { domain: [0, 1] } },
          y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { domain: [0, Y_MAX] } },
          color: { field: 'gamma', type: 'nominal', title: null, sort: null, legend: { orient: 'top-right', offset: 12, labelLimit: 260, fillColor: 'white', padding: 6 } },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const svgPath = join(outDir, 'focal-loss.svg');
  const pngPath = join(outDir, 'focal-loss.png');
  writeAtomic(svgPath, svg);
  writeAtomic(pngPath, await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer());
  return [svgPath, pngPath];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outDir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'img');
  for (const path of await plotFocal(outDir)) console.log(`wrote ${path}`);
}
