/** `focal-yolo import-darknet <file.weights>`: a Darknet weights file → a focal-yolo checkpoint (reference-spec §8). */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createYolo, exportSafetensors, loadDarknetWeights, saveCheckpoint, YOLO_VARIANTS, type YoloVariant } from '../models/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { addModelOptions, intOption, startBackend, type ModelCliOptions } from './infer-options.js';

interface ImportDarknetOptions extends ModelCliOptions {
  out?: string;
  fileClasses?: number;
  phi: number;
  safetensors?: string;
  seed: number;
}

/** `--names`: a file with one name per line, or a comma-separated list. */
function classNames(spec: string | undefined, count: number): string[] | undefined {
  if (spec === undefined) return undefined;
  const names = existsSync(spec) ? readFileSync(spec, 'utf8').split(/\r?\n/) : spec.split(',');
  const clean = names.map((n) => n.trim()).filter((n) => n.length > 0);
  if (clean.length !== count) throw new Error(`--names ${spec} gives ${clean.length} names for --classes ${count}; give one name per class`);
  return clean;
}

/** Adds the `import-darknet` command. */
export function register(program: Command): void {
  const cmd = program
    .command('import-darknet')
    .description('convert a Darknet .weights file (yolov4.weights, yolov4-tiny.weights, …) into a focal-yolo checkpoint')
    .argument('<weights>', 'Darknet .weights file');
  addModelOptions(cmd)
    .option('--out <dir>', 'checkpoint directory to write (default: the weights file name without .weights)')
    .option('--file-classes <n>', 'classes the file was trained for (default: inferred from its size)', intOption('file-classes', 1, 10000))
    .option('--phi <n>', 'yolov4-tiny attention 0–3 (not in Darknet files: attention weights start from their init)', intOption('phi', 0, 3), 0)
    .option('--safetensors <file>', 'also write the weights with the reference PyTorch state-dict names')
    .option('--seed <n>', 'seed for weights the file does not hold (heads of another class count)', intOption('seed', 0), 0)
    .action(async (weights: string, o: ImportDarknetOptions) => {
      if (o.variant === undefined || !YOLO_VARIANTS.includes(o.variant)) {
        throw new Error(`--variant ${o.variant ?? '(missing)'}: give --variant yolov4 or --variant yolov4-tiny`);
      }
      if (o.classes === undefined) throw new Error('--classes is missing: give the number of classes of the model to build (80 for COCO weights)');
      if (!existsSync(weights)) throw new Error(`${weights} does not exist; give the path of a Darknet .weights file`);
      await startBackend(cmd);
      const names = classNames(o.names, o.classes);
      const model = createYolo({ variant: o.variant as YoloVariant, numClasses: o.classes, inputShape: o.size, phi: o.phi, seed: o.seed });
      try {
        const info = loadDarknetWeights(model, new Uint8Array(readFileSync(weights)), { source: weights, fileClasses: o.fileClasses });
        const { major, minor, revision, seen } = info.header;
        console.log(`${weights}: Darknet ${major}.${minor}.${revision}, seen ${seen}, heads for ${info.fileClasses} classes`);
        if (!info.headsLoaded) {
          console.log(`heads skipped: the file has ${info.fileClasses} classes, the model ${o.classes}; head output convs keep their initialisation`);
        }
        const out = o.out ?? join(dirname(weights), basename(weights).replace(/\.weights$/i, '') || 'checkpoint');
        await saveCheckpoint(model, out, { classNames: names, training: { source: basename(weights), darknetSeen: seen } });
        console.log(`wrote ${out} (${model.variant}, ${model.numClasses} classes, ${model.countParameters().toLocaleString('en-US')} parameters)`);
        if (o.safetensors) {
          await writeFileAtomic(o.safetensors, exportSafetensors(model));
          console.log(`wrote ${o.safetensors}`);
        }
      } finally {
        model.dispose();
      }
    });
}
