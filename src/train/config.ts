/**
 * Training options: every option of the reference's train.py (reference-spec §4.1) under a clear
 * name, with the reference's defaults (YOLOv4 and YOLOv4-tiny differ in a few), read from a YAML
 * file and/or overrides, validated with messages that name the option and the fix.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { OptimizerType, ScheduleType } from './schedule.js';

/** Every training option. */
export interface TrainConfig {
  /** Dataset YAML (names, train, val, format). */
  data: string;
  variant: 'yolov4' | 'yolov4-tiny';
  /** Input [height, width], multiples of 32. */
  inputShape: [number, number];
  /** YOLOv4-tiny attention: 0 none, 1 SE, 2 CBAM, 3 ECA. */
  phi: number;
  /** Initial weights: a checkpoint folder, a Darknet `.weights` file, or '' for random init. */
  weights: string;
  /** Initialise the objectness bias with the RetinaNet prior π = 0.01 (focal-loss paper). */
  priorObjectnessBias: boolean;
  /** Train a first phase with the backbone frozen (reference: Freeze_Train). */
  freezeTrain: boolean;
  /** Epochs of the frozen phase (Freeze_Epoch). */
  freezeEpochs: number;
  /** Batch size of the frozen phase (Freeze_batch_size). */
  freezeBatchSize: number;
  /** Total epochs (UnFreeze_Epoch). */
  epochs: number;
  /** Batch size after unfreezing (Unfreeze_batch_size). */
  batchSize: number;
  /** Split each batch into this many mini-batches whose gradients add up (Darknet subdivisions). */
  subdivisions: number;
  /** Epoch to start from (Init_Epoch); set by --resume. */
  initEpoch: number;
  optimizer: OptimizerType;
  /** Maximum learning rate before batch-size scaling (Init_lr). */
  lr: number;
  /** Final learning rate before batch-size scaling (Min_lr; default lr · 0.01). */
  minLr: number;
  /** SGD momentum / Adam β₁. */
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: ScheduleType;
  /** Learning rate set once per epoch (reference) or every iteration. */
  scheduleEvery: 'epoch' | 'iteration';
  focalLoss: boolean;
  focalAlpha: number;
  focalGamma: number;
  iouType: 'iou' | 'giou' | 'diou' | 'ciou' | 'siou';
  /** Class label smoothing ε (applied, unlike the reference where the option has no effect). */
  labelSmoothing: number;
  /** Aspect jitter of the ordinary augmentation (§3.3; reference 0.3). */
  jitter: number;
  /** Scale range of the ordinary augmentation's random placement (§3.3; reference 0.25 … 2). */
  scaleMin: number;
  scaleMax: number;
  mosaic: boolean;
  mosaicProb: number;
  mixup: boolean;
  mixupProb: number;
  /** Mosaic/mixup only during the first fraction of the epochs. */
  specialAugRatio: number;
  /** Validate (mAP) every N epochs; 0 = never. */
  evalPeriod: number;
  /**
   * The in-training mAP@0.5: VOC all-point AP (default) or COCO's 101-point AP50. The reference
   * picks one depending on whether pycocotools is installed (quirk 14); here it is chosen explicitly.
   */
  evalMetric: 'voc' | 'coco';
  /** Save an `epNNN` checkpoint every N epochs (plus `last` and `best` every epoch). */
  savePeriod: number;
  /** Runs folder; the run goes to `<saveDir>/<name>`. */
  saveDir: string;
  name: string;
  seed: number;
  /** Data-loading worker threads. */
  workers: number;
  /** Keep an exponential moving average of the weights for evaluation and saving. */
  ema: boolean;
  emaDecay: number;
  /** Skip samples with dataset errors instead of refusing to train. */
  skipBadSamples: boolean;
  /** Keep decoded images in memory (`'ram'`, like Ultralytics' `cache=ram`; same samples, less decoding). */
  cache: 'none' | 'ram';
}

/** The reference's defaults for a variant (§4.1; YOLOv4-tiny differences applied). */
export function defaultTrainConfig(variant: TrainConfig['variant'] = 'yolov4-tiny'): TrainConfig {
  const tiny = variant === 'yolov4-tiny';
  return {
    data: '',
    variant,
    inputShape: [416, 416],
    phi: 0,
    weights: '',
    priorObjectnessBias: false,
    freezeTrain: !tiny,
    freezeEpochs: 50,
    freezeBatchSize: tiny ? 32 : 8,
    epochs: 300,
    batchSize: tiny ? 16 : 4,
    subdivisions: 1,
    initEpoch: 0,
    optimizer: 'sgd',
    lr: 1e-2,
    minLr: 1e-4,
    momentum: 0.937,
    nesterov: true,
    weightDecay: 5e-4,
    schedule: 'cos',
    scheduleEvery: 'epoch',
    focalLoss: false,
    focalAlpha: 0.25,
    focalGamma: 2,
    iouType: 'ciou',
    labelSmoothing: 0,
    jitter: 0.3,
    scaleMin: 0.25,
    scaleMax: 2,
    mosaic: !tiny,
    mosaicProb: 0.5,
    mixup: !tiny,
    mixupProb: 0.5,
    specialAugRatio: 0.7,
    evalPeriod: 10,
    evalMetric: 'voc',
    savePeriod: 10,
    saveDir: 'runs/train',
    name: 'exp',
    seed: 11,
    workers: 2,
    ema: false,
    emaDecay: 0.9999,
    skipBadSamples: false,
    cache: 'none',
  };
}

type Kind = 'string' | 'number' | 'integer' | 'boolean';
/** The value kind of each option (for CLI flags): a primitive, an enumeration, or an input shape. */
export const TRAIN_OPTION_KINDS: Readonly<Record<keyof TrainConfig, Kind | readonly string[] | 'shape'>> = {
  data: 'string', variant: ['yolov4', 'yolov4-tiny'], inputShape: 'shape', phi: 'integer', weights: 'string',
  priorObjectnessBias: 'boolean', freezeTrain: 'boolean', freezeEpochs: 'integer', freezeBatchSize: 'integer',
  epochs: 'integer', batchSize: 'integer', subdivisions: 'integer', initEpoch: 'integer', optimizer: ['sgd', 'adam', 'adamw'],
  lr: 'number', minLr: 'number', momentum: 'number', nesterov: 'boolean', weightDecay: 'number', schedule: ['cos', 'step'],
  scheduleEvery: ['epoch', 'iteration'], focalLoss: 'boolean', focalAlpha: 'number', focalGamma: 'number',
  iouType: ['iou', 'giou', 'diou', 'ciou', 'siou'], labelSmoothing: 'number', jitter: 'number', scaleMin: 'number', scaleMax: 'number', mosaic: 'boolean', mosaicProb: 'number',
  mixup: 'boolean', mixupProb: 'number', specialAugRatio: 'number', evalPeriod: 'integer', evalMetric: ['voc', 'coco'], savePeriod: 'integer',
  saveDir: 'string', name: 'string', seed: 'integer', workers: 'integer', ema: 'boolean', emaDecay: 'number',
  skipBadSamples: 'boolean', cache: ['none', 'ram'],
};

/** The option names, for help texts. */
export const TRAIN_OPTION_NAMES = Object.keys(TRAIN_OPTION_KINDS) as (keyof TrainConfig)[];

function coerce(key: keyof TrainConfig, raw: unknown, where: string): unknown {
  const kind = TRAIN_OPTION_KINDS[key];
  const bad = (want: string) => new Error(`${where}: option '${key}' = ${JSON.stringify(raw)} must be ${want}`);
  if (Array.isArray(kind)) {
    if (typeof raw !== 'string' || !kind.includes(raw)) throw bad(`one of ${kind.join(', ')}`);
    return raw;
  }
  switch (kind) {
    case 'string':
      if (typeof raw !== 'string') throw bad('a string');
      return raw;
    case 'boolean':
      if (raw === 'true' || raw === true) return true;
      if (raw === 'false' || raw === false) return false;
      throw bad('true or false');
    case 'number':
    case 'integer': {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(kind === 'integer' ? 'an integer' : 'a number');
      if (kind === 'integer' && !Number.isInteger(n)) throw bad('an integer');
      return n;
    }
    case 'shape': {
      const list = typeof raw === 'number' ? [raw, raw] : typeof raw === 'string' ? raw.split(/[,x ]+/).map(Number) : raw;
      if (!Array.isArray(list)) throw bad('a size like 416 or [416, 416]');
      const pair = list.length === 1 ? [list[0], list[0]] : list;
      if (pair.length !== 2 || !pair.every((v) => Number.isInteger(v) && v > 0 && v % 32 === 0)) {
        throw bad('a multiple of 32, or [height, width] with both multiples of 32');
      }
      return [pair[0], pair[1]];
    }
  }
}

/** Checks relations between options; throws one message naming the options and the fix. */
export function validateTrainConfig(c: TrainConfig): void {
  const fail = (msg: string) => {
    throw new Error(`training options: ${msg}`);
  };
  if (!c.data) fail("'data' (the dataset YAML) is required: pass --data path/to/dataset.yaml");
  if (c.epochs < 1) fail(`'epochs' = ${c.epochs} must be ≥ 1`);
  if (c.batchSize < 2 || c.freezeBatchSize < 2) fail('batch sizes must be ≥ 2 (BatchNorm in training mode needs two images)');
  if (c.subdivisions < 1 || c.subdivisions > Math.min(c.batchSize, c.freezeBatchSize)) {
    fail(`'subdivisions' = ${c.subdivisions} must be between 1 and the batch size`);
  }
  if (c.initEpoch < 0 || c.initEpoch >= c.epochs) fail(`'initEpoch' = ${c.initEpoch} must be in 0..${c.epochs - 1}`);
  if (c.freezeEpochs < 0) fail(`'freezeEpochs' = ${c.freezeEpochs} must be ≥ 0`);
  if (!(c.lr > 0) || !(c.minLr > 0) || c.minLr > c.lr) fail(`need 0 < minLr (${c.minLr}) ≤ lr (${c.lr})`);
  if (c.focalAlpha < 0 || c.focalAlpha > 1) fail(`'focalAlpha' = ${c.focalAlpha} must be in [0, 1]`);
  if (c.focalGamma < 0) fail(`'focalGamma' = ${c.focalGamma} must be ≥ 0`);
  if (c.labelSmoothing < 0 || c.labelSmoothing >= 1) fail(`'labelSmoothing' = ${c.labelSmoothing} must be in [0, 1)`);
  if (!(c.jitter >= 0 && c.jitter < 1)) fail(`'jitter' = ${c.jitter} must be in [0, 1)`);
  if (!(c.scaleMin > 0 && c.scaleMin <= c.scaleMax)) fail(`need 0 < scaleMin (${c.scaleMin}) ≤ scaleMax (${c.scaleMax})`);
  for (const k of ['mosaicProb', 'mixupProb', 'specialAugRatio'] as const) {
    if (c[k] < 0 || c[k] > 1) fail(`'${k}' = ${c[k]} must be in [0, 1]`);
  }
  if (c.phi < 0 || c.phi > 3) fail(`'phi' = ${c.phi} must be 0 (none), 1 (SE), 2 (CBAM) or 3 (ECA)`);
  if (c.phi !== 0 && c.variant !== 'yolov4-tiny') fail("'phi' (attention) exists only for variant yolov4-tiny");
  if (c.evalPeriod < 0 || c.savePeriod < 1) fail("'evalPeriod' must be ≥ 0 and 'savePeriod' ≥ 1");
  if (c.workers < 0) fail(`'workers' = ${c.workers} must be ≥ 0`);
  if (!(c.emaDecay > 0 && c.emaDecay < 1)) fail(`'emaDecay' = ${c.emaDecay} must be in (0, 1)`);
}

/**
 * Builds a training configuration: the variant's defaults, then the YAML file (if any), then
 * `overrides` (CLI flags); unknown option names are errors naming the closest valid one.
 *
 * @example
 * ```ts
 * const config = loadTrainConfig({ file: 'train.yaml', overrides: { epochs: '50', focalLoss: 'true' } });
 * ```
 */
export function loadTrainConfig(opts: { file?: string; overrides?: Record<string, unknown> }): TrainConfig {
  const fromFile: Record<string, unknown> = {};
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch {
      throw new Error(`training config ${opts.file} cannot be read: check the path`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new Error(`training config ${opts.file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`training config ${opts.file} must be a mapping of option: value`);
      Object.assign(fromFile, parsed);
    }
  }
  const merged = { ...fromFile, ...(opts.overrides ?? {}) };
  const variantRaw = merged.variant ?? 'yolov4-tiny';
  const variant = coerce('variant', variantRaw, opts.file ?? 'options') as TrainConfig['variant'];
  const config = defaultTrainConfig(variant) as unknown as Record<string, unknown>;
  const minLrGiven = 'minLr' in merged;
  for (const [key, raw] of Object.entries(merged)) {
    if (raw === undefined) continue;
    const where = key in fromFile && !(key in (opts.overrides ?? {})) ? (opts.file ?? 'options') : 'options';
    if (!(key in TRAIN_OPTION_KINDS)) {
      throw new Error(`${where}: unknown option '${key}'${suggest(key)}`);
    }
    config[key] = coerce(key as keyof TrainConfig, raw, where);
  }
  const result = config as unknown as TrainConfig;
  if (!minLrGiven) result.minLr = result.lr * 0.01;
  validateTrainConfig(result);
  return result;
}

function suggest(key: string): string {
  const lower = key.toLowerCase().replace(/[-_]/g, '');
  const hit = TRAIN_OPTION_NAMES.find((k) => k.toLowerCase() === lower);
  return hit ? `; did you mean '${hit}'?` : `; valid options: ${TRAIN_OPTION_NAMES.join(', ')}`;
}
