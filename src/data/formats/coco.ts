/**
 * COCO instances JSON: `images`, `annotations` (bbox `[x, y, w, h]`), `categories`. Category ids
 * are mapped to contiguous indices (by name when the YAML lists names, else in ascending id order);
 * `iscrowd` objects are kept with a flag and excluded from training.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../config.js';
import type { Dataset, DatasetIssue, Sample } from '../types.js';

interface CocoJson {
  images?: { id: number; file_name: string; width?: number; height?: number }[];
  annotations?: { id?: number; image_id: number; category_id: number; bbox: number[]; iscrowd?: number; area?: number }[];
  categories?: { id: number; name: string }[];
}

/** Category names of a COCO file in ascending id order (used when a YAML has no names). */
export function cocoCategoryNames(file: string): string[] {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as CocoJson;
  return [...(doc.categories ?? [])].sort((a, b) => a.id - b.id).map((c) => c.name);
}

/**
 * Reads a COCO instances file. Image paths are `images/<file_name>` (default: the JSON's folder).
 *
 * @example
 * const ds = readCoco('annotations/instances_val2017.json', 'val2017', names);
 */
export function readCoco(file: string, imagesDir: string | undefined, names: string[]): Dataset {
  const issues: DatasetIssue[] = [];
  let doc: CocoJson;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as CocoJson;
  } catch (err) {
    const reason = err instanceof SyntaxError ? `malformed JSON (${err.message})` : 'cannot be read';
    return { format: 'coco', names, samples: [], issues: [{ severity: 'error', file, message: `${reason}: fix or re-export the file` }] };
  }
  if (!Array.isArray(doc.images) || !Array.isArray(doc.annotations) || !Array.isArray(doc.categories)) {
    return { format: 'coco', names, samples: [], issues: [{ severity: 'error', file, message: 'not a COCO instances file: needs images, annotations and categories arrays' }] };
  }
  const dir = imagesDir ?? dirname(file);
  const byName = new Map(names.map((n, i) => [n, i]));
  const catIndex = new Map<number, number>();
  for (const cat of doc.categories) {
    const idx = byName.get(String(cat.name));
    if (idx === undefined) issues.push({ severity: 'error', file, message: `category ${cat.id} '${cat.name}' is not in names: add it to the YAML names` });
    else catIndex.set(cat.id, idx);
  }
  const byImage = new Map<number, Sample>();
  const samples: Sample[] = [];
  for (const img of doc.images) {
    const sample: Sample = { image: resolve(dir, img.file_name), boxes: [], classes: [], crowd: [], source: file };
    if (img.width && img.height) {
      sample.width = img.width;
      sample.height = img.height;
    }
    if (byImage.has(img.id)) issues.push({ severity: 'error', file, message: `image id ${img.id} is listed twice` });
    byImage.set(img.id, sample);
    samples.push(sample);
  }
  for (const [k, ann] of doc.annotations.entries()) {
    const where = `annotation ${ann.id ?? `#${k}`}`;
    const sample = byImage.get(ann.image_id);
    if (!sample) {
      issues.push({ severity: 'error', file, message: `${where}: image_id ${ann.image_id} is not in images` });
      continue;
    }
    const cls = catIndex.get(ann.category_id);
    if (cls === undefined) {
      issues.push({ severity: 'error', file, image: sample.image, message: `${where}: category_id ${ann.category_id} is not a known category` });
      continue;
    }
    const b = ann.bbox;
    if (!Array.isArray(b) || b.length !== 4 || b.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      issues.push({ severity: 'error', file, image: sample.image, message: `${where}: bbox must be 4 numbers [x, y, w, h]` });
      continue;
    }
    sample.boxes.push([b[0], b[1], b[0] + b[2], b[1] + b[3]]);
    sample.classes.push(cls);
    sample.crowd!.push(ann.iscrowd === 1);
  }
  return { format: 'coco', names, samples, issues };
}

/**
 * Writes a COCO instances JSON for samples (sizes must be known); categories get ids 1…C.
 * Image file names are relative to `imagesDir`.
 */
export function writeCocoJson(file: string, samples: Sample[], names: string[], imagesDir: string): void {
  const images: NonNullable<CocoJson['images']> = [];
  const annotations: NonNullable<CocoJson['annotations']> = [];
  samples.forEach((s, i) => {
    const rel = s.image.startsWith(imagesDir + '/') ? s.image.slice(imagesDir.length + 1) : basename(s.image);
    images.push({ id: i + 1, file_name: rel, width: s.width, height: s.height });
    s.boxes.forEach((b, k) => {
      const w = b[2] - b[0];
      const h = b[3] - b[1];
      annotations.push({
        id: annotations.length + 1,
        image_id: i + 1,
        category_id: s.classes[k] + 1,
        bbox: [b[0], b[1], w, h],
        area: w * h,
        iscrowd: s.crowd?.[k] ? 1 : 0,
      });
    });
  });
  const categories = names.map((name, i) => ({ id: i + 1, name }));
  writeFileAtomic(file, JSON.stringify({ images, annotations, categories }));
}
