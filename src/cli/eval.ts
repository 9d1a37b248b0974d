/** `focal-yolo eval <model> <dataset.yaml>`: VOC and/or COCO mAP with a per-class table, PR curves and a JSON (reference-spec §6). */
import type { Command } from 'commander';
import { join } from 'node:path';
import { readSplit, requireValid } from '../data/index.js';
import { evaluateDetections, writePrCurves, type EvaluationResult } from '../eval/index.js';
import { evaluateDetector } from '../infer/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { addModelOptions, detectorFromCli, intOption, numberOption, startBackend, type ModelCliOptions } from './infer-options.js';

interface EvalOptions extends ModelCliOptions {
  split: string;
  metric: 'voc' | 'coco' | 'both';
  conf: number;
  nms: number;
  iou: number;
  plusOne: boolean;
  letterbox?: boolean;
  out: string;
  batch: number;
  plots: boolean;
}

const pct = (v: number) => (Number.isNaN(v) || v < 0 ? '-'.padStart(6) : (v * 100).toFixed(2).padStart(6));

/** The per-class table printed to the console. */
export function formatTable(result: EvaluationResult, names: string[]): string {
  const width = Math.max(5, ...names.map((n) => n.length));
  const voc = result.metric === 'voc';
  const head = voc ? ['AP@.5', 'P@.5s', 'R@.5s', 'F1'] : ['AP', 'AP50'];
  const lines = [`${'class'.padEnd(width)}  ${'gt'.padStart(6)}  ${'dets'.padStart(7)}  ${head.map((h) => h.padStart(6)).join('  ')}`];
  names.forEach((name, c) => {
    const cells = voc
      ? [pct(result.perClass[c]), pct(result.atScoreThreshold?.[c].precision ?? NaN), pct(result.atScoreThreshold?.[c].recall ?? NaN), pct(result.atScoreThreshold?.[c].f1 ?? NaN)]
      : [pct(result.perClass[c]), pct(result.coco?.perClassAp50[c] ?? NaN)];
    lines.push(`${name.padEnd(width)}  ${String(result.groundTruthCount[c]).padStart(6)}  ${String(result.detectionCount[c]).padStart(7)}  ${cells.join('  ')}`);
  });
  if (voc) lines.push(`mAP@${'0.5'} = ${(result.map * 100).toFixed(2)}%`);
  else {
    const s = result.coco;
    if (s) {
      lines.push(
        `AP ${pct(s.ap)}  AP50 ${pct(s.ap50)}  AP75 ${pct(s.ap75)}  APs ${pct(s.apSmall)}  APm ${pct(s.apMedium)}  APl ${pct(s.apLarge)}`,
        `AR1 ${pct(s.ar1)}  AR10 ${pct(s.ar10)}  AR100 ${pct(s.ar100)}  ARs ${pct(s.arSmall)}  ARm ${pct(s.arMedium)}  ARl ${pct(s.arLarge)}`,
      );
    }
  }
  return lines.join('\n');
}

/** Adds the `eval` command. */
export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate a model on a dataset split: VOC mAP@0.5 (reference get_map) and/or COCO mAP@[.5:.95]')
    .argument('<model>', 'checkpoint directory, or Darknet .weights with --variant')
    .argument('<yaml>', 'dataset YAML (its class names are used)')
    .option('--split <name>', 'split to evaluate', 'val')
    .option('--metric <m>', 'voc, coco or both', (v) => {
      if (!['voc', 'coco', 'both'].includes(v)) throw new Error(`--metric ${v} is unknown; use voc, coco or both`);
      return v;
    }, 'both')
    .option('--conf <p>', 'detection threshold (reference get_map: 0.001)', numberOption('conf', 0, 1), 0.001)
    .option('--nms <iou>', 'NMS IoU (reference get_map: 0.5)', numberOption('nms', 0, 1), 0.5)
    .option('--iou <t>', 'VOC match IoU (MINOVERLAP)', numberOption('iou', 0.01, 1), 0.5)
    .option('--no-plus-one', 'VOC: plain IoU instead of the reference\'s inclusive-pixel (+1) overlap')
    .option('--letterbox', 'letterbox the images (reference get_map: stretch)')
    .option('--out <dir>', 'folder for metrics.json and the PR curves', 'runs/eval')
    .option('--no-plots', 'skip the PR-curve PNGs')
    .option('--batch <n>', 'images per network call', intOption('batch', 1, 256), 8);
  addModelOptions(cmd).action(async (model: string, yaml: string, o: EvalOptions, command: Command) => {
    const dataset = requireValid(await readSplit(yaml, o.split));
    await startBackend(command);
    const detector = await detectorFromCli(model, { ...o, names: o.names ?? dataset.names.join(',') });
    const metrics = o.metric === 'both' ? (['voc', 'coco'] as const) : [o.metric];
    const t0 = performance.now();
    const first = await evaluateDetector(detector, dataset, {
      metric: metrics[0],
      confidence: o.conf,
      nmsIou: o.nms,
      letterbox: o.letterbox ?? false,
      iouThreshold: o.iou,
      plusOnePixel: o.plusOne,
      batchSize: o.batch,
      onProgress: (done, total) => process.stderr.write(`\rdetecting ${done}/${total}`),
    });
    process.stderr.write('\n');
    const results: Record<string, EvaluationResult> = { [metrics[0]]: first.result };
    if (metrics.length > 1) {
      results[metrics[1]] = await evaluateDetections({
        groundTruth: first.groundTruth,
        detections: first.detections,
        numClasses: dataset.names.length,
        metric: metrics[1],
        iouThreshold: o.iou,
        plusOnePixel: o.plusOne,
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    for (const m of metrics) {
      console.log(`\n${m === 'voc' ? `VOC (IoU ${o.iou}${o.plusOne ? ', +1 pixel' : ''}, difficult ignored)` : 'COCO (pycocotools bbox)'}:`);
      console.log(formatTable(results[m], dataset.names));
      if (o.plots) {
        const written = await writePrCurves(results[m], dataset.names, join(o.out, m));
        console.log(`PR curves: ${written.length} PNGs in ${join(o.out, m)}`);
      }
    }
    const json = {
      model,
      dataset: yaml,
      split: o.split,
      images: dataset.samples.length,
      classNames: dataset.names,
      settings: { confidence: o.conf, nms: o.nms, iou: o.iou, plusOnePixel: o.plusOne, letterbox: o.letterbox ?? false, scaleXY: o.scaleXy ?? null },
      seconds,
      ...Object.fromEntries(
        Object.entries(results).map(([m, r]) => [m, { ...r, map: r.map, perClass: r.perClass.map((v) => (Number.isNaN(v) ? null : v)) }]),
      ),
    };
    const path = join(o.out, 'metrics.json');
    await writeFileAtomic(path, JSON.stringify(json, (_, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 1) + '\n');
    console.log(`${dataset.samples.length} images in ${seconds.toFixed(1)} s; wrote ${path}`);
    detector.dispose();
  });
}
