/**
 * `dataset check`: reads every split of a dataset YAML and every image, and reports per file:
 * missing or unreadable images, malformed annotations, unknown classes, boxes outside the image or
 * of zero area, size mismatches, duplicates; plus counts per class and a box-size histogram.
 */
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { readDatasetConfig } from './config.js';
import { readSource } from './dataset.js';
import type { DatasetConfig, DatasetIssue, Sample } from './types.js';

/** Upper edges (pixels, of √(w·h)) of the box-size histogram bins; the last bin is open. */
export const BOX_SIZE_BINS = [8, 16, 32, 64, 128, 256, 512];

/** What `checkDataset` found in one split. */
export interface SplitReport {
  split: string;
  images: number;
  objects: number;
  /** objects per class index (difficult/crowd included) */
  perClass: number[];
  /** objects flagged difficult (VOC) or crowd (COCO) */
  ignored: number;
  /** counts per {@link BOX_SIZE_BINS} bin, length bins + 1 */
  sizeHistogram: number[];
  issues: DatasetIssue[];
}

/** The whole report. */
export interface CheckReport {
  file: string;
  format: DatasetConfig['format'];
  names: string[];
  splits: SplitReport[];
  errors: number;
  warnings: number;
}

/** Decodes an image fully (tiny output) to catch truncated or corrupt files; returns its oriented size. */
async function probeImage(path: string): Promise<{ width: number; height: number } | string> {
  if (!existsSync(path)) return 'image is missing';
  try {
    const meta = await sharp(path).metadata();
    await sharp(path, { failOn: 'truncated' }).resize(8, 8, { fit: 'fill' }).raw().toBuffer();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    if (!width || !height) return 'image has no size';
    return { width, height };
  } catch (err) {
    return `image is unreadable (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
  }
}

function checkBoxes(sample: Sample, size: { width: number; height: number }, issues: DatasetIssue[]): void {
  const file = sample.source ?? sample.image;
  const seen = new Set<string>();
  sample.boxes.forEach((b, k) => {
    const [x1, y1, x2, y2] = b;
    const where = `box ${k} [${b.map((v) => Math.round(v * 100) / 100).join(', ')}]`;
    const issue = (severity: DatasetIssue['severity'], message: string) => issues.push({ severity, file, image: sample.image, message: `${where}: ${message}` });
    if (!(x2 > x1 && y2 > y1)) issue('error', 'has zero or negative area: fix the corners (x1 < x2, y1 < y2)');
    else if (x2 <= 0 || y2 <= 0 || x1 >= size.width || y1 >= size.height) issue('error', `lies outside the ${size.width}x${size.height} image`);
    else if (x1 < 0 || y1 < 0 || x2 > size.width || y2 > size.height) issue('warning', `extends outside the ${size.width}x${size.height} image (it will be clipped)`);
    const key = `${b.join(',')},${sample.classes[k]}`;
    if (seen.has(key)) issue('warning', 'duplicates an earlier box of the same class');
    seen.add(key);
  });
}

/**
 * Checks splits of a dataset (default: all in the YAML). Never throws for dataset problems: they are in the report.
 *
 * @example
 * const report = await checkDataset('data.yaml');
 * console.log(formatCheckReport(report));
 * process.exitCode = report.errors > 0 ? 1 : 0;
 */
export async function checkDataset(config: string | DatasetConfig, { splits }: { splits?: string[] } = {}): Promise<CheckReport> {
  const c = typeof config === 'string' ? readDatasetConfig(config) : config;
  const names = splits ?? Object.keys(c.splits);
  const reports: SplitReport[] = [];
  for (const split of names) {
    const source = c.splits[split];
    if (source === undefined) throw new Error(`${c.file}: has no split '${split}'`);
    let issues: DatasetIssue[];
    let samples: Sample[];
    try {
      const ds = await readSource(c.format, source, c.names);
      issues = [...ds.issues];
      samples = ds.samples;
    } catch (err) {
      const file = typeof source === 'string' ? source : source.annotations;
      issues = [{ severity: 'error', file, message: (err as Error).message }];
      samples = [];
    }
    const seenImages = new Set<string>();
    for (let i = 0; i < samples.length; i += 16) {
      const chunk = samples.slice(i, i + 16);
      const probes = await Promise.all(chunk.map((s) => probeImage(s.image)));
      chunk.forEach((s, k) => {
        const probe = probes[k];
        if (seenImages.has(s.image)) issues.push({ severity: 'warning', file: s.image, image: s.image, message: 'image is listed twice in this split' });
        seenImages.add(s.image);
        if (typeof probe === 'string') {
          if (!issues.some((x) => x.file === s.image && x.severity === 'error')) issues.push({ severity: 'error', file: s.image, image: s.image, message: probe });
          return;
        }
        if (s.width && s.height && (s.width !== probe.width || s.height !== probe.height)) {
          issues.push({
            severity: 'error',
            file: s.source ?? s.image,
            image: s.image,
            message: `annotation says ${s.width}x${s.height} but the image is ${probe.width}x${probe.height}: fix the size or the image`,
          });
        }
        checkBoxes(s, probe, issues);
      });
    }
    const perClass = new Array<number>(c.names.length).fill(0);
    const sizeHistogram = new Array<number>(BOX_SIZE_BINS.length + 1).fill(0);
    let objects = 0;
    let ignored = 0;
    for (const s of samples) {
      s.boxes.forEach((b, k) => {
        objects++;
        perClass[s.classes[k]]++;
        if (s.difficult?.[k] || s.crowd?.[k]) ignored++;
        const side = Math.sqrt(Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]));
        const bin = BOX_SIZE_BINS.findIndex((edge) => side < edge);
        sizeHistogram[bin < 0 ? BOX_SIZE_BINS.length : bin]++;
      });
    }
    reports.push({ split, images: samples.length, objects, perClass, ignored, sizeHistogram, issues });
  }
  const all = reports.flatMap((r) => r.issues);
  return {
    file: c.file,
    format: c.format,
    names: c.names,
    splits: reports,
    errors: all.filter((i) => i.severity === 'error').length,
    warnings: all.filter((i) => i.severity === 'warning').length,
  };
}

/** The report as text: one line per issue, then per-split tables (classes, box sizes) and a verdict. */
export function formatCheckReport(report: CheckReport, { maxIssues = 200 }: { maxIssues?: number } = {}): string {
  const out: string[] = [];
  const issues = report.splits.flatMap((r) => r.issues);
  for (const i of issues.slice(0, maxIssues)) out.push(`${i.severity === 'error' ? 'ERROR' : 'warning'} ${i.file}${i.line ? `:${i.line}` : ''}: ${i.message}`);
  if (issues.length > maxIssues) out.push(`… and ${issues.length - maxIssues} more`);
  for (const r of report.splits) {
    out.push('', `${r.split}: ${r.images} images, ${r.objects} objects${r.ignored ? ` (${r.ignored} difficult/crowd)` : ''}`);
    const width = Math.max(5, ...report.names.map((n) => n.length));
    out.push(`  ${'class'.padEnd(width)}  objects`);
    report.names.forEach((n, k) => out.push(`  ${n.padEnd(width)}  ${String(r.perClass[k]).padStart(7)}`));
    const labels = BOX_SIZE_BINS.map((e, k) => `${k === 0 ? 0 : BOX_SIZE_BINS[k - 1]}-${e}`).concat(`≥${BOX_SIZE_BINS[BOX_SIZE_BINS.length - 1]}`);
    const most = Math.max(1, ...r.sizeHistogram);
    out.push(`  box size √(w·h) px`);
    labels.forEach((l, k) => out.push(`  ${l.padStart(8)}  ${String(r.sizeHistogram[k]).padStart(7)}  ${'#'.repeat(Math.round((30 * r.sizeHistogram[k]) / most))}`));
  }
  out.push('', `${report.errors} error(s), ${report.warnings} warning(s) in ${report.file}`);
  return out.join('\n');
}
