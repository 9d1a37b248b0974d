/**
 * Pascal VOC: `Annotations/<id>.xml`, `JPEGImages/<id>.jpg`, `ImageSets/Main/<split>.txt`.
 * Coordinates are kept as written (the reference truncates them later, during augmentation).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { writeFileAtomic } from '../config.js';
import type { Dataset, DatasetIssue, Sample } from '../types.js';

/** Resolves a VOC source to its root folder and the list of ids (a split file, or every annotation). */
function vocIds(source: string): { root: string; ids: string[]; listFile?: string } {
  if (source.endsWith('.txt')) {
    const root = resolve(dirname(source), '..', '..');
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch {
      throw new Error(`VOC split file ${source} cannot be read: check the path (…/ImageSets/Main/<split>.txt)`);
    }
    const ids = text.split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter((l) => l.length > 0);
    return { root, ids, listFile: source };
  }
  const annotations = join(source, 'Annotations');
  if (!existsSync(annotations)) throw new Error(`VOC folder ${source} has no Annotations/: point at the VOC root (e.g. VOC2007) or a split file`);
  const ids = readdirSync(annotations).filter((f) => f.endsWith('.xml')).map((f) => f.slice(0, -4)).sort();
  return { root: source, ids };
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'object' });

/**
 * Reads a VOC split. `source` is a VOC root folder (all annotations) or `ImageSets/Main/<split>.txt`.
 * Objects of a class not in `names` are reported as errors; `difficult` is kept per object.
 *
 * @example
 * const ds = readVoc('VOCdevkit/VOC2007/ImageSets/Main/val.txt', ['aeroplane', …]);
 */
export function readVoc(source: string, names: string[]): Dataset {
  const { root, ids } = vocIds(source);
  const issues: DatasetIssue[] = [];
  const samples: Sample[] = [];
  const classIndex = new Map(names.map((n, i) => [n, i]));
  for (const id of ids) {
    const file = join(root, 'Annotations', `${id}.xml`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      issues.push({ severity: 'error', file, message: `annotation for id '${id}' is missing` });
      continue;
    }
    const valid = XMLValidator.validate(text);
    if (valid !== true) {
      issues.push({ severity: 'error', file, line: valid.err.line, message: `malformed XML: ${valid.err.msg}` });
      continue;
    }
    const doc = parser.parse(text) as { annotation?: VocAnnotation };
    const ann = doc.annotation;
    if (!ann) {
      issues.push({ severity: 'error', file, message: 'malformed XML: no <annotation> root element' });
      continue;
    }
    const filename = typeof ann.filename === 'string' && ann.filename.trim() ? ann.filename.trim() : `${id}.jpg`;
    const sample: Sample = { image: join(root, 'JPEGImages', filename), boxes: [], classes: [], difficult: [], source: file };
    const width = Number(ann.size?.width);
    const height = Number(ann.size?.height);
    if (width > 0 && height > 0) {
      sample.width = width;
      sample.height = height;
    }
    for (const [k, obj] of (ann.object ?? []).entries()) {
      const name = typeof obj.name === 'string' ? obj.name.trim() : '';
      const cls = classIndex.get(name);
      if (cls === undefined) {
        issues.push({ severity: 'error', file, image: sample.image, message: `object ${k}: class '${name}' is not in names: add it to the YAML names or fix the label` });
        continue;
      }
      const b = obj.bndbox;
      const coords = [b?.xmin, b?.ymin, b?.xmax, b?.ymax].map((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN));
      if (coords.some((v) => !Number.isFinite(v))) {
        issues.push({ severity: 'error', file, image: sample.image, message: `object ${k} ('${name}'): bndbox needs numeric xmin, ymin, xmax, ymax` });
        continue;
      }
      sample.boxes.push(coords);
      sample.classes.push(cls);
      sample.difficult!.push(String(obj.difficult ?? '0').trim() === '1');
    }
    samples.push(sample);
  }
  return { format: 'voc', names, samples, issues };
}

interface VocAnnotation {
  filename?: unknown;
  size?: { width?: unknown; height?: unknown };
  object?: { name?: unknown; difficult?: unknown; bndbox?: { xmin?: unknown; ymin?: unknown; xmax?: unknown; ymax?: unknown } }[];
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Writes one VOC annotation XML (image sizes must be known). */
export function vocXml(sample: Sample, names: string[], filename: string): string {
  const objects = sample.boxes.map((b, i) => {
    const [x1, y1, x2, y2] = b.map((v) => String(Math.round(v * 1e4) / 1e4));
    return (
      `  <object>\n    <name>${escapeXml(names[sample.classes[i]])}</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n` +
      `    <difficult>${sample.difficult?.[i] ? 1 : 0}</difficult>\n` +
      `    <bndbox>\n      <xmin>${x1}</xmin>\n      <ymin>${y1}</ymin>\n      <xmax>${x2}</xmax>\n      <ymax>${y2}</ymax>\n    </bndbox>\n  </object>\n`
    );
  });
  return (
    `<annotation>\n  <folder>JPEGImages</folder>\n  <filename>${escapeXml(filename)}</filename>\n` +
    `  <size>\n    <width>${sample.width ?? 0}</width>\n    <height>${sample.height ?? 0}</height>\n    <depth>3</depth>\n  </size>\n` +
    `${objects.join('')}</annotation>\n`
  );
}

/**
 * Writes the annotations of one split into a VOC folder (`root`): XML per image and
 * `ImageSets/Main/<split>.txt`. Images are placed by `placeImage(sample, destination)`.
 * Returns the split file path.
 */
export async function writeVocSplit(
  root: string,
  split: string,
  samples: Sample[],
  names: string[],
  placeImage: (sample: Sample, destination: string) => Promise<void>,
): Promise<string> {
  for (const d of ['Annotations', 'JPEGImages', join('ImageSets', 'Main')]) mkdirSync(join(root, d), { recursive: true });
  const ids: string[] = [];
  for (const sample of samples) {
    const file = basename(sample.image);
    const id = file.replace(/\.[^.]+$/, '');
    ids.push(id);
    await placeImage(sample, join(root, 'JPEGImages', file));
    writeFileAtomic(join(root, 'Annotations', `${id}.xml`), vocXml(sample, names, file));
  }
  const list = join(root, 'ImageSets', 'Main', `${split}.txt`);
  writeFileAtomic(list, ids.join('\n') + '\n');
  return list;
}
