/** Writing a dataset in any of our formats, with its YAML: used by `dataset convert` and `dataset synth`. */
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { writeDatasetConfig, writeFileAtomic } from './config.js';
import { writeCocoJson } from './formats/coco.js';
import { writeVocSplit } from './formats/voc.js';
import { writeYoloSplit } from './formats/yolo.js';
import { imageSize } from './image.js';
import type { DatasetFormat, Sample, SplitSource } from './types.js';

/** Puts a sample's image at `destination` (default: copy the file; the synthetic set writes bytes). */
export type PlaceImage = (sample: Sample, destination: string) => Promise<void>;

const copyImage: PlaceImage = async (sample, destination) => {
  const tmp = `${destination}.tmp-${process.pid}`;
  await copyFile(sample.image, tmp);
  await rename(tmp, destination);
};

/** Gives every image a file name unique across all splits (VOC keeps them in one folder). */
function uniqueNames(splits: Record<string, Sample[]>): Record<string, Sample[]> {
  const used = new Set<string>();
  const out: Record<string, Sample[]> = {};
  for (const [split, samples] of Object.entries(splits)) {
    out[split] = samples.map((s) => {
      const ext = extname(s.image);
      const stem = basename(s.image, ext);
      let name = `${stem}${ext}`;
      for (let k = 1; used.has(name); k++) name = `${stem}_${k}${ext}`;
      used.add(name);
      return { ...s, image: join('/__name__', name), source: s.image };
    });
  }
  return out;
}

/**
 * Writes samples of several splits as a dataset of `format` under `out`, plus `out/data.yaml`.
 * Image sizes are read from the files when the samples do not carry them. Returns the YAML path.
 *
 * @example
 * await writeDataset({ out: 'shapes-voc', format: 'voc', names, splits: { train, val } });
 */
export async function writeDataset(opts: {
  out: string;
  format: DatasetFormat;
  names: string[];
  splits: Record<string, Sample[]>;
  placeImage?: PlaceImage;
}): Promise<string> {
  const { out, format, names } = opts;
  const place = opts.placeImage ?? copyImage;
  await mkdir(out, { recursive: true });
  // Sizes first: YOLO needs them to normalise, VOC and COCO write them.
  for (const samples of Object.values(opts.splits)) {
    await Promise.all(
      samples.map(async (s) => {
        if (!s.width || !s.height) Object.assign(s, await imageSize(s.image));
      }),
    );
  }
  const renamed = uniqueNames(opts.splits);
  // `image` now holds the destination file name; `source` the original file.
  const placeRenamed: PlaceImage = (s, destination) => place({ ...s, image: s.source! }, destination);
  const sources: Record<string, SplitSource> = {};
  for (const [split, samples] of Object.entries(renamed)) {
    if (format === 'yolo') sources[split] = await writeYoloSplit(out, split, samples, placeRenamed);
    else if (format === 'voc') sources[split] = await writeVocSplit(out, split, samples, names, placeRenamed);
    else {
      const imagesDir = join(out, 'images', split);
      await mkdir(imagesDir, { recursive: true });
      const placed: Sample[] = [];
      for (const s of samples) {
        const destination = join(imagesDir, basename(s.image));
        await placeRenamed(s, destination);
        placed.push({ ...s, image: destination });
      }
      if (format === 'coco') {
        await mkdir(join(out, 'annotations'), { recursive: true });
        const file = join(out, 'annotations', `instances_${split}.json`);
        writeCocoJson(file, placed, names, imagesDir);
        sources[split] = { annotations: file, images: imagesDir };
      } else {
        const file = join(out, `${split}.txt`);
        writeLinesRelative(file, placed, out);
        sources[split] = file;
      }
    }
  }
  const yaml = join(out, 'data.yaml');
  writeDatasetConfig(yaml, { format, names, splits: sources });
  return yaml;
}

/** Annotation lines with image paths relative to the lines file's folder. */
function writeLinesRelative(file: string, samples: Sample[], base: string): void {
  const f = (v: number) => String(Math.round(v * 1e4) / 1e4);
  const lines = samples.map((s) => {
    const path = relative(base, s.image);
    if (/\s/.test(path)) throw new Error(`image path '${path}' contains whitespace, which the line format cannot hold; rename it`);
    return [path, ...s.boxes.map((b, i) => `${f(b[0])},${f(b[1])},${f(b[2])},${f(b[3])},${s.classes[i]}`)].join(' ');
  });
  writeFileAtomic(file, lines.join('\n') + '\n');
}
