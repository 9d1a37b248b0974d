/** `focal-yolo anchors <dataset.yaml>`: k-means anchors for a dataset (reference-spec §7). */
import type { Command } from 'commander';
import { imageSize, readSplit } from '../data/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatAnchors, kmeansAnchors } from '../yolo/kmeans.js';
import { intOption, sizeOption } from './infer-options.js';

interface AnchorsOptions {
  k: number;
  size: [number, number];
  split: string;
  seed: number;
  out?: string;
}

/**
 * Box shapes of a split as fractions of their image, the reference's way: (int(x2) − int(x1)) / width,
 * every object including difficult ones; boxes without area are left out.
 */
async function boxShapes(yaml: string, split: string): Promise<{ shapes: [number, number][]; skipped: number }> {
  const dataset = await readSplit(yaml, split);
  const shapes: [number, number][] = [];
  let skipped = 0;
  for (const sample of dataset.samples) {
    if (sample.boxes.length === 0) continue;
    const size = sample.width && sample.height ? { width: sample.width, height: sample.height } : await imageSize(sample.image);
    for (const [x1, y1, x2, y2] of sample.boxes) {
      const w = (Math.trunc(x2) - Math.trunc(x1)) / size.width;
      const h = (Math.trunc(y2) - Math.trunc(y1)) / size.height;
      if (w > 0 && h > 0) shapes.push([w, h]);
      else skipped++;
    }
  }
  return { shapes, skipped };
}

/** Adds the `anchors` command. */
export function register(program: Command): void {
  program
    .command('anchors')
    .description('k-means anchors (1 − IoU distance) for a dataset; prints them and the mean best IoU')
    .argument('<yaml>', 'dataset YAML')
    .option('--k <n>', 'number of anchors (9 for yolov4, 6 for yolov4-tiny)', intOption('k', 1, 100), 9)
    .option('--size <s>', 'network input the anchors are for: 416 or HxW', sizeOption('size'), [416, 416] as [number, number])
    .option('--split <name>', 'split to read', 'train')
    .option('--seed <x>', 'seed of the initial clusters', intOption('seed', 0), 0)
    .option('--out <file>', 'also write the anchors as one line "w,h, w,h, …" (the reference\'s yolo_anchors.txt)')
    .action(async (yaml: string, o: AnchorsOptions) => {
      const { shapes, skipped } = await boxShapes(yaml, o.split);
      if (shapes.length < o.k) {
        throw new Error(`${yaml}: split '${o.split}' has ${shapes.length} boxes, fewer than --k ${o.k}; lower --k or add data`);
      }
      const t0 = performance.now();
      const r = kmeansAnchors(shapes, { k: o.k, seed: o.seed });
      const [h, w] = o.size;
      const anchors = r.anchors.map(([aw, ah]) => [aw * w, ah * h] as [number, number]);
      const line = formatAnchors(anchors);
      console.log(
        `${shapes.length} boxes${skipped ? ` (${skipped} without area skipped)` : ''}, k = ${o.k}, ${r.iterations} iterations` +
          `${r.reinitialised ? `, ${r.reinitialised} empty clusters re-initialised` : ''}, ${((performance.now() - t0) / 1000).toFixed(2)} s`,
      );
      console.log(`anchors (w,h at ${w}x${h}): ${line}`);
      console.log(`mean best IoU: ${r.meanIou.toFixed(4)}`);
      if (o.out) {
        await writeFileAtomic(o.out, line);
        console.log(`wrote ${o.out}`);
      }
    });
}
