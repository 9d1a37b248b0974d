/**
 * `dataset preview`: a PNG grid of augmented training images with their boxes and class names drawn
 * (through an SVG overlay rendered by sharp), so a user sees what the network will see.
 */
import sharp from 'sharp';
import { writeFileAtomic } from './config.js';
import { createRandom, randomInt } from './rng.js';
import { pipelineItems, SamplePipeline, type AugmentOptions } from './pipeline.js';
import type { Dataset } from './types.js';

const PALETTE = ['#ff3838', '#ff9d97', '#ff701f', '#ffb21d', '#cff231', '#48f90a', '#92cc17', '#3ddb86', '#1a9334', '#00d4bb', '#2c99a8', '#00c2ff', '#344593', '#6473ff', '#0018ec', '#8438ff', '#520085', '#cb38ff', '#ff95c8', '#ff37c7'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Renders `count` augmented samples of a dataset into one PNG grid and writes it to `out`.
 *
 * @example
 * await previewDataset(await readSplit('data.yaml', 'train'), { out: 'preview.png', inputShape: [416, 416], seed: 1 });
 */
export async function previewDataset(
  dataset: Dataset,
  opts: AugmentOptions & { out: string; count?: number; columns?: number; epoch?: number },
): Promise<{ out: string; kinds: string[] }> {
  const count = opts.count ?? 16;
  if (!(Number.isInteger(count) && count > 0 && count <= 256)) throw new Error(`count ${count} must be an integer in 1…256`);
  const columns = opts.columns ?? Math.ceil(Math.sqrt(count));
  const pipeline = new SamplePipeline(pipelineItems(dataset.samples), opts);
  const [h, w] = pipeline.options.inputShape;
  const rows = Math.ceil(count / columns);
  const gap = 4;
  const W = columns * w + (columns + 1) * gap;
  const H = rows * h + (rows + 1) * gap;
  const canvas = new Uint8Array(W * H * 3).fill(255);
  const svg: string[] = [];
  const kinds: string[] = [];
  const pick = createRandom(pipeline.options.seed, 0x9e77);
  for (let k = 0; k < count; k++) {
    const sample = await pipeline.sample(randomInt(pick, pipeline.items.length), opts.epoch ?? 0, k);
    kinds.push(sample.kind);
    const ox = gap + (k % columns) * (w + gap);
    const oy = gap + Math.floor(k / columns) * (h + gap);
    const a = sample.pixels;
    const b = sample.mixWith;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * 3; x++) {
        const i = y * w * 3 + x;
        canvas[(oy + y) * W * 3 + ox * 3 + x] = b ? (a[i] + b[i]) >> 1 : a[i];
      }
    }
    for (const [x1, y1, x2, y2, cls] of sample.rows) {
      const colour = PALETTE[cls % PALETTE.length];
      const name = escapeXml(dataset.names[cls] ?? String(cls));
      svg.push(`<rect x="${ox + x1}" y="${oy + y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      const ty = y1 >= 13 ? oy + y1 - 2 : oy + y1 + 12;
      svg.push(`<rect x="${ox + x1}" y="${ty - 11}" width="${name.length * 7 + 4}" height="13" fill="${colour}"/>`);
      svg.push(`<text x="${ox + x1 + 2}" y="${ty}" font-family="DejaVu Sans, sans-serif" font-size="11" fill="#000">${name}</text>`);
    }
    svg.push(`<text x="${ox + 4}" y="${oy + h - 6}" font-family="DejaVu Sans, sans-serif" font-size="12" fill="#fff" stroke="#000" stroke-width="0.4">${sample.kind}</text>`);
  }
  const overlay = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${svg.join('')}</svg>`);
  const png = await sharp(Buffer.from(canvas.buffer), { raw: { width: W, height: H, channels: 3 } })
    .composite([{ input: overlay, top: 0, left: 0 }])
    .png()
    .toBuffer();
  writeFileAtomic(opts.out, png);
  return { out: opts.out, kinds };
}
