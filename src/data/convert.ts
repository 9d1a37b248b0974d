/** `dataset convert`: rewrite a dataset (every split of its YAML) in another format, keeping every box. */
import { resolve } from 'node:path';
import { readDatasetConfig } from './config.js';
import { readSource } from './dataset.js';
import type { DatasetFormat, Sample } from './types.js';
import { writeDataset } from './write.js';

/**
 * Converts the dataset of `yaml` to `format` under `out` (images are copied); refuses datasets with
 * errors (run `dataset check` first). Returns the new YAML path and counts.
 *
 * @example
 * const { yaml } = await convertDataset({ yaml: 'voc/data.yaml', format: 'yolo', out: 'shapes-yolo' });
 */
export async function convertDataset(opts: { yaml: string; format: DatasetFormat; out: string }): Promise<{ yaml: string; images: number; objects: number }> {
  const config = readDatasetConfig(opts.yaml);
  const out = resolve(opts.out);
  if (out === config.root) throw new Error(`--out ${opts.out} is the source dataset's folder: choose a new folder`);
  const splits: Record<string, Sample[]> = {};
  let images = 0;
  let objects = 0;
  for (const [split, source] of Object.entries(config.splits)) {
    const ds = await readSource(config.format, source, config.names);
    const errors = ds.issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) {
      const e = errors[0];
      throw new Error(`${split}: ${errors.length} error(s), first: ${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}; fix them first (focal-yolo dataset check)`);
    }
    splits[split] = ds.samples;
    images += ds.samples.length;
    objects += ds.samples.reduce((n, s) => n + s.boxes.length, 0);
  }
  const yaml = await writeDataset({ out, format: opts.format, names: config.names, splits });
  return { yaml, images, objects };
}
