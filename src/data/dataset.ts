/** Reading a split named in a dataset YAML, whatever its format, and refusing broken datasets. */
import { readDatasetConfig } from './config.js';
import { readCoco } from './formats/coco.js';
import { readLines } from './formats/lines.js';
import { readVoc } from './formats/voc.js';
import { readYolo } from './formats/yolo.js';
import type { Dataset, DatasetConfig, SplitSource } from './types.js';

/** Reads one split source in the given format. */
export async function readSource(format: Dataset['format'], source: SplitSource, names: string[]): Promise<Dataset> {
  if (format === 'coco') {
    const s = typeof source === 'string' ? { annotations: source } : source;
    return readCoco(s.annotations, s.images, names);
  }
  if (typeof source !== 'string') throw new Error(`a ${format} split must be a path, not {annotations, images}`);
  if (format === 'voc') return readVoc(source, names);
  if (format === 'lines') return readLines(source, names);
  return readYolo(source, names);
}

/**
 * Reads split `split` of a dataset YAML (or an already parsed config).
 *
 * @example
 * const val = await readSplit('data/shapes/data.yaml', 'val');
 * console.log(val.samples.length, val.issues.length);
 */
export async function readSplit(config: string | DatasetConfig, split: string): Promise<Dataset> {
  const c = typeof config === 'string' ? readDatasetConfig(config) : config;
  const source = c.splits[split];
  if (source === undefined) {
    throw new Error(`${c.file}: has no split '${split}' (it has ${Object.keys(c.splits).join(', ')}): add \`${split}:\` to the YAML`);
  }
  return readSource(c.format, source, c.names);
}

/**
 * Training's gate: throws when a dataset has errors, unless `skipBad` (then the samples with errors are
 * dropped and the count reported through `log`). Returns the usable dataset.
 *
 * @example
 * const train = requireValid(await readSplit(yaml, 'train'), { skipBad: true });
 */
export function requireValid(dataset: Dataset, { skipBad = false, log = console.warn }: { skipBad?: boolean; log?: (line: string) => void } = {}): Dataset {
  const errors = dataset.issues.filter((i) => i.severity === 'error');
  if (errors.length === 0) return dataset;
  if (!skipBad) {
    const first = errors[0];
    throw new Error(
      `dataset has ${errors.length} error(s), first: ${first.file}${first.line ? `:${first.line}` : ''}: ${first.message}; run \`focal-yolo dataset check\` or pass --skip-bad`,
    );
  }
  const bad = new Set(errors.flatMap((e) => (e.image ? [e.image] : [])));
  const samples = dataset.samples.filter((s) => !bad.has(s.image));
  const unusable = errors.length - errors.filter((e) => e.image).length;
  log(`skipping ${dataset.samples.length - samples.length} sample(s) with errors, ${unusable} unreadable annotation(s) (${errors.length} error(s) in total)`);
  return { ...dataset, samples };
}
