/** `focal-yolo dataset synth | check | convert | preview`: parsing and validation, then src/data/. */
import type { Command } from 'commander';
import {
  checkDataset,
  convertDataset,
  DATASET_FORMATS,
  formatCheckReport,
  previewDataset,
  readSplit,
  requireValid,
  synthesizeDataset,
  type DatasetFormat,
} from '../data/index.js';

function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${v} must be an integer in ${min}…${max}`);
    return n;
  };
}

function format(v: string): DatasetFormat {
  if (!DATASET_FORMATS.includes(v as DatasetFormat)) throw new Error(`--format ${v} is unknown; use one of ${DATASET_FORMATS.join(', ')}`);
  return v as DatasetFormat;
}

function shape(v: string): [number, number] {
  const parts = v.split(/[x,]/).map(Number);
  const [h, w] = parts.length === 1 ? [parts[0], parts[0]] : parts;
  if (parts.length > 2 || !Number.isInteger(h) || !Number.isInteger(w) || h % 32 !== 0 || w % 32 !== 0 || h <= 0 || w <= 0) {
    throw new Error(`--input ${v} must be a multiple of 32 (e.g. 416) or HxW (e.g. 416x608)`);
  }
  return [h, w];
}

/** Adds the `dataset` command and its sub-commands. */
export function register(program: Command): void {
  const dataset = program.command('dataset').description('make, check, convert and preview datasets');

  dataset
    .command('synth')
    .description('write a synthetic dataset of coloured shapes on textured backgrounds (known ground truth)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--images <n>', 'number of images', integer('images', 1), 200)
    .option('--classes <k>', 'number of classes (1…48)', integer('classes', 1, 48), 4)
    .option('--size <s>', 'image side in pixels', integer('size', 32, 4096), 224)
    .option('--seed <x>', 'random seed', integer('seed', 0), 0)
    .option('--format <f>', `dataset format: ${DATASET_FORMATS.join(', ')}`, format, 'yolo' as DatasetFormat)
    .option('--val <fraction>', 'share of images in the val split', (v) => Number(v), 0.2)
    .action(async (o: { out: string; images: number; classes: number; size: number; seed: number; format: DatasetFormat; val: number }) => {
      const t0 = performance.now();
      const r = await synthesizeDataset({ out: o.out, images: o.images, classes: o.classes, size: o.size, seed: o.seed, format: o.format, valFraction: o.val });
      console.log(`wrote ${r.train} train + ${r.val} val images, ${r.objects} objects, classes ${r.names.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      console.log(r.yaml);
    });

  dataset
    .command('check')
    .description('read every annotation and image; report problems and statistics (exit code 1 on errors)')
    .argument('<yaml>', 'dataset YAML')
    .option('--split <name...>', 'only these splits')
    .option('--max-issues <n>', 'issue lines to print', integer('max-issues', 0), 200)
    .action(async (yaml: string, o: { split?: string[]; maxIssues: number }) => {
      const report = await checkDataset(yaml, { splits: o.split });
      console.log(formatCheckReport(report, { maxIssues: o.maxIssues }));
      if (report.errors > 0) process.exitCode = 1;
    });

  dataset
    .command('convert')
    .description('rewrite a dataset in another format (images copied, every box kept)')
    .argument('<yaml>', 'dataset YAML')
    .requiredOption('--format <f>', `target format: ${DATASET_FORMATS.join(', ')}`, format)
    .requiredOption('--out <dir>', 'output folder')
    .action(async (yaml: string, o: { format: DatasetFormat; out: string }) => {
      const r = await convertDataset({ yaml, format: o.format, out: o.out });
      console.log(`converted ${r.images} images, ${r.objects} objects to ${o.format}: ${r.yaml}`);
    });

  dataset
    .command('preview')
    .description('write a PNG grid of augmented training images with their boxes and class names')
    .argument('<yaml>', 'dataset YAML')
    .option('--out <file>', 'PNG to write', 'preview.png')
    .option('--split <name>', 'split to sample', 'train')
    .option('--count <n>', 'number of images', integer('count', 1, 256), 16)
    .option('--input <size>', 'network input, 416 or HxW', shape, [416, 416] as [number, number])
    .option('--seed <x>', 'random seed', integer('seed', 0), 11)
    .option('--epoch <e>', 'epoch to simulate (mosaic stops after epochs·special-aug-ratio)', integer('epoch', 0), 0)
    .option('--no-mosaic', 'no mosaic')
    .option('--no-mixup', 'no mixup')
    .option('--val', 'show the validation path (letterbox only)')
    .action(async (yaml: string, o: { out: string; split: string; count: number; input: [number, number]; seed: number; epoch: number; mosaic: boolean; mixup: boolean; val?: boolean }) => {
      const ds = requireValid(await readSplit(yaml, o.split), { skipBad: true, log: (line) => console.log(line) });
      const r = await previewDataset(ds, {
        out: o.out,
        count: o.count,
        inputShape: o.input,
        seed: o.seed,
        epoch: o.epoch,
        mosaic: o.mosaic,
        mixup: o.mixup,
        train: !o.val,
      });
      console.log(`wrote ${r.out} (${r.kinds.length} images)`);
    });
}
