/** `focal-yolo predict <model> <image|dir|glob>`: detect, draw and/or write JSON per image (reference-spec §5.7). */
import type { Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { drawDetections } from '../infer/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { addModelOptions, detectorFromCli, intOption, numberOption, startBackend, type ModelCliOptions } from './infer-options.js';

/** The extensions the reference's dir_predict accepts (case-insensitive), plus WebP. */
const IMAGE_EXTENSIONS = new Set(['.bmp', '.dib', '.png', '.jpg', '.jpeg', '.pbm', '.pgm', '.ppm', '.tif', '.tiff', '.webp']);

function isImage(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/**
 * The images a user means: a file, every image in a folder (sorted), or a `*`/`?` pattern in the
 * last path component.
 */
export function resolveImages(spec: string): string[] {
  if (/[*?]/.test(basename(spec))) {
    const dir = dirname(spec);
    if (!existsSync(dir)) throw new Error(`folder ${dir} of the pattern ${spec} does not exist`);
    const re = globToRegExp(basename(spec));
    const files = readdirSync(dir).filter((f) => re.test(f) && isImage(f)).sort().map((f) => join(dir, f));
    if (files.length === 0) throw new Error(`no image matches ${spec}`);
    return files;
  }
  if (!existsSync(spec)) throw new Error(`${spec} does not exist: pass an image, a folder of images or a pattern like 'imgs/*.jpg'`);
  if (statSync(spec).isDirectory()) {
    const files = readdirSync(spec).filter(isImage).sort().map((f) => join(spec, f));
    if (files.length === 0) throw new Error(`folder ${spec} has no images (${[...IMAGE_EXTENSIONS].join(' ')})`);
    return files;
  }
  return [spec];
}

interface PredictOptions extends ModelCliOptions {
  out: string;
  json?: boolean;
  draw: boolean;
  conf: number;
  nms: number;
  letterbox?: boolean;
  batch: number;
}

/** Adds the `predict` command. */
export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('detect objects in images; write them drawn (PNG) and/or as JSON, one file per image')
    .argument('<model>', 'checkpoint directory, or Darknet .weights with --variant and --names/--classes')
    .argument('<images>', "an image, a folder of images, or a pattern such as 'photos/*.jpg'")
    .option('--out <dir>', 'output folder', 'predictions')
    .option('--json', 'write <name>.json with the detections')
    .option('--no-draw', 'do not write the drawn images')
    .option('--conf <p>', 'keep objectness × class probability ≥ p', numberOption('conf', 0, 1), 0.5)
    .option('--nms <iou>', 'class-wise NMS IoU threshold', numberOption('nms', 0, 1), 0.3)
    .option('--letterbox', 'letterbox instead of stretching the image to the input (reference default: stretch)')
    .option('--batch <n>', 'images per network call', intOption('batch', 1, 256), 8);
  addModelOptions(cmd).action(async (model: string, images: string, o: PredictOptions, command: Command) => {
    const files = resolveImages(images);
    if (!o.draw && !o.json) throw new Error('--no-draw without --json writes nothing: add --json');
    await startBackend(command);
    const detector = await detectorFromCli(model, o);
    const inputShape = detector.model.inputShape;
    const t0 = performance.now();
    let total = 0;
    for (let i = 0; i < files.length; i += o.batch) {
      const chunk = files.slice(i, i + o.batch);
      const found = await detector.detectBatch(chunk, { batchSize: o.batch });
      for (let j = 0; j < chunk.length; j++) {
        const file = chunk[j];
        const dets = found[j];
        total += dets.length;
        const stem = basename(file, extname(file));
        if (o.draw) {
          const png = await drawDetections(file, dets, { numClasses: detector.model.numClasses, inputShape });
          await writeFileAtomic(join(o.out, `${stem}.png`), png);
        }
        if (o.json) {
          const json = { image: resolve(file), detections: dets.map((d) => ({ ...d, box: d.box.map((v) => Math.round(v * 100) / 100) })) };
          await writeFileAtomic(join(o.out, `${stem}.json`), JSON.stringify(json, null, 2) + '\n');
        }
        const counts = new Map<string, number>();
        for (const d of dets) counts.set(d.className, (counts.get(d.className) ?? 0) + 1);
        console.log(`${file}: ${dets.length} objects${dets.length ? ` (${[...counts].map(([n, c]) => `${c} ${n}`).join(', ')})` : ''}`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`${files.length} images, ${total} objects in ${seconds.toFixed(2)} s → ${o.out}`);
    detector.dispose();
  });
}
