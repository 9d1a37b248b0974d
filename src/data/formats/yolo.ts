/**
 * YOLO txt (Ultralytics layout): `images/<split>/x.jpg` with `labels/<split>/x.txt`, one line per
 * object `cls cx cy w h`, normalised to 0..1. A source is an images folder or a .txt list of images.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../config.js';
import { imageSize } from '../image.js';
import type { Dataset, DatasetIssue, Sample } from '../types.js';

/** File extensions treated as images. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif']);

/** The label file of an image: the last `/images/` folder becomes `/labels/`, the extension `.txt`. */
export function yoloLabelPath(image: string): string {
  const marker = `${sep}images${sep}`;
  const at = image.lastIndexOf(marker);
  const base = at >= 0 ? image.slice(0, at) + `${sep}labels${sep}` + image.slice(at + marker.length) : image;
  return base.slice(0, base.length - extname(base).length) + '.txt';
}

function listImages(source: string): string[] {
  let stat;
  try {
    stat = statSync(source);
  } catch {
    throw new Error(`YOLO source ${source} does not exist: point at an images folder or a .txt list of images`);
  }
  if (stat.isDirectory()) {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (IMAGE_EXTENSIONS.has(extname(name).toLowerCase())) out.push(p);
      }
    };
    walk(source);
    return out;
  }
  return readFileSync(source, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => resolve(dirname(source), l));
}

/**
 * Reads a YOLO split. Image sizes come from the image headers (needed to turn 0..1 into pixels);
 * an unreadable image is an error, an image without a label file has no objects.
 *
 * @example
 * const ds = await readYolo('shapes/images/train', ['circle', 'square']);
 */
export async function readYolo(source: string, names: string[]): Promise<Dataset> {
  const issues: DatasetIssue[] = [];
  const samples: Sample[] = [];
  const images = listImages(source);
  const sizes = await Promise.all(
    images.map((p) =>
      imageSize(p).catch((err: Error) => {
        issues.push({ severity: 'error', file: p, image: p, message: err.message.replace(`image ${p} `, '') });
        return undefined;
      }),
    ),
  );
  images.forEach((image, i) => {
    const size = sizes[i];
    if (!size) return;
    const labelFile = yoloLabelPath(image);
    const sample: Sample = { image, width: size.width, height: size.height, boxes: [], classes: [], source: labelFile };
    if (existsSync(labelFile)) {
      readFileSync(labelFile, 'utf8')
        .split(/\r?\n/)
        .forEach((raw, k) => {
          const line = raw.trim();
          if (line === '') return;
          const parts = line.split(/\s+/);
          const nums = parts.map(Number);
          if (parts.length !== 5 || nums.some((v) => !Number.isFinite(v))) {
            issues.push({ severity: 'error', file: labelFile, line: k + 1, image, message: `expected 'cls cx cy w h' (5 numbers), got '${line}'` });
            return;
          }
          const [cls, cx, cy, w, h] = nums;
          if (!Number.isInteger(cls) || cls < 0 || cls >= names.length) {
            issues.push({ severity: 'error', file: labelFile, line: k + 1, image, message: `class ${parts[0]} is not in names (0…${names.length - 1})` });
            return;
          }
          sample.boxes.push([(cx - w / 2) * size.width, (cy - h / 2) * size.height, (cx + w / 2) * size.width, (cy + h / 2) * size.height]);
          sample.classes.push(cls);
        });
    }
    samples.push(sample);
  });
  return { format: 'yolo', names, samples, issues };
}

/** One label file's text for a sample (image size must be known). */
export function yoloLabelText(sample: Sample): string {
  const { width, height } = sample;
  if (!width || !height) throw new Error(`yoloLabelText: ${sample.image} has no known size`);
  return sample.boxes
    .map((b, i) => {
      const f = (v: number) => (Math.round(v * 1e6) / 1e6).toString();
      return `${sample.classes[i]} ${f((b[0] + b[2]) / 2 / width)} ${f((b[1] + b[3]) / 2 / height)} ${f((b[2] - b[0]) / width)} ${f((b[3] - b[1]) / height)}`;
    })
    .map((l) => l + '\n')
    .join('');
}

/**
 * Writes a split in YOLO layout under `root`: `images/<split>/…` and `labels/<split>/….txt`.
 * Returns the images folder (the YAML source).
 */
export async function writeYoloSplit(
  root: string,
  split: string,
  samples: Sample[],
  placeImage: (sample: Sample, destination: string) => Promise<void>,
): Promise<string> {
  const imagesDir = join(root, 'images', split);
  const labelsDir = join(root, 'labels', split);
  mkdirSync(imagesDir, { recursive: true });
  mkdirSync(labelsDir, { recursive: true });
  for (const sample of samples) {
    const file = basename(sample.image);
    await placeImage(sample, join(imagesDir, file));
    writeFileAtomic(join(labelsDir, file.replace(/\.[^.]+$/, '') + '.txt'), yoloLabelText(sample));
  }
  return imagesDir;
}
