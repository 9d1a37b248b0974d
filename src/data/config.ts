/**
 * Dataset YAML in the style people know from Ultralytics:
 *
 * ```yaml
 * path: .            # root, relative to this file (optional)
 * format: yolo       # yolo | voc | coco | lines
 * train: images/train
 * val: images/val
 * names: [circle, square]   # or {0: circle, 1: square}
 * ```
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { DATASET_FORMATS, type DatasetConfig, type DatasetFormat, type SplitSource } from './types.js';

const RESERVED = new Set(['path', 'format', 'names', 'nc', 'download']);

function fail(file: string, message: string): never {
  throw new Error(`${file}: ${message}`);
}

/**
 * Reads and validates a dataset YAML. Split paths become absolute.
 *
 * @param file path of the YAML file
 * @example
 * const config = readDatasetConfig('data/shapes/data.yaml');
 * console.log(config.names, Object.keys(config.splits)); // ['circle', …] ['train', 'val']
 */
export function readDatasetConfig(file: string): DatasetConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    throw new Error(`dataset YAML ${file} cannot be read: check the path`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    fail(file, `is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail(file, 'must be a mapping with names, train and val');
  const d = doc as Record<string, unknown>;
  const root = resolve(dirname(abs), typeof d.path === 'string' ? d.path : '.');
  const format = (d.format ?? 'yolo') as DatasetFormat;
  if (!DATASET_FORMATS.includes(format)) fail(file, `format '${String(d.format)}' is unknown; use one of ${DATASET_FORMATS.join(', ')}`);
  const names = parseNames(file, d.names);
  const splits: Record<string, SplitSource> = {};
  for (const [key, value] of Object.entries(d)) {
    if (RESERVED.has(key) || value === null || value === undefined) continue;
    if (typeof value === 'string') splits[key] = resolve(root, value);
    else if (typeof value === 'object' && !Array.isArray(value) && typeof (value as Record<string, unknown>).annotations === 'string') {
      const v = value as { annotations: string; images?: unknown };
      splits[key] = {
        annotations: resolve(root, v.annotations),
        images: typeof v.images === 'string' ? resolve(root, v.images) : undefined,
      };
    } else fail(file, `split '${key}' must be a path (or {annotations, images} for COCO)`);
  }
  if (!('train' in splits) && !('val' in splits)) fail(file, 'names no split: add `train:` and `val:` paths');
  return { file: abs, root, format, names, splits };
}

function parseNames(file: string, names: unknown): string[] {
  if (names === undefined || names === null) {
    fail(file, 'has no `names`: list the class names, e.g. names: [cat, dog]');
  }
  let list: unknown[];
  if (Array.isArray(names)) list = names;
  else if (typeof names === 'object') {
    const entries = Object.entries(names as Record<string, unknown>).map(([k, v]) => [Number(k), v] as const);
    entries.sort((a, b) => a[0] - b[0]);
    entries.forEach(([k], i) => {
      if (k !== i) fail(file, `names keys must be 0…${entries.length - 1} without gaps; key ${i} is missing`);
    });
    list = entries.map(([, v]) => v);
  } else fail(file, '`names` must be a list or a {index: name} mapping');
  const out = list.map((n, i) => {
    if (typeof n !== 'string' && typeof n !== 'number') fail(file, `names[${i}] is not a string`);
    return String(n);
  });
  if (out.length === 0) fail(file, '`names` is empty: a dataset needs at least one class');
  const dup = out.find((n, i) => out.indexOf(n) !== i);
  if (dup !== undefined) fail(file, `class name '${dup}' appears twice in names`);
  return out;
}

/**
 * Writes a dataset YAML atomically; split paths are written relative to the YAML's folder when inside it.
 *
 * @example
 * writeDatasetConfig('out/data.yaml', { format: 'yolo', names: ['a'], splits: { train: 'images/train' } });
 */
export function writeDatasetConfig(
  file: string,
  config: { format: DatasetFormat; names: string[]; splits: Record<string, SplitSource> },
): void {
  const dir = dirname(resolve(file));
  const rel = (p: string) => {
    const r = isAbsolute(p) ? p : resolve(dir, p);
    return r.startsWith(dir + '/') ? r.slice(dir.length + 1) : r;
  };
  const doc: Record<string, unknown> = { path: '.', format: config.format };
  for (const [k, v] of Object.entries(config.splits)) {
    doc[k] = typeof v === 'string' ? rel(v) : { annotations: rel(v.annotations), ...(v.images ? { images: rel(v.images) } : {}) };
  }
  doc.names = config.names;
  writeFileAtomic(file, YAML.stringify(doc));
}

/** Writes a file via a temp file and rename, so readers never see half a file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}
