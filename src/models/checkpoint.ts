/**
 * Checkpoints: a directory with a TensorFlow.js LayersModel (`model.json` + `group1-shardNofM.bin`,
 * built-in layers only: loads in a browser with `tf.loadLayersModel`) and a JSON sidecar
 * `focal-yolo.json` (variant, classes, anchors, input shape, training state). Written atomically:
 * the files go to a fresh sibling directory that then replaces the old one by rename.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeDirectoryAtomic } from '../util/atomic.js';
import { layersModelTopology } from './layers-topology.js';
import { kerasWeightName, sizeOf } from './params.js';
import { createYolo, VARIANT_ANCHORS, YOLO_VARIANTS, type Yolo, type YoloVariant } from './yolo.js';

/** The sidecar file name. */
export const SIDECAR_FILE = 'focal-yolo.json';
/** The TensorFlow.js model file name. */
export const MODEL_FILE = 'model.json';
const SHARD_BYTES = 4 * 1024 * 1024; // tfjs's default shard size, cache-friendly in browsers

/** The sidecar's content. */
export interface CheckpointMeta {
  format: 'focal-yolo-checkpoint';
  version: 1;
  variant: YoloVariant;
  numClasses: number;
  phi: number;
  /** [height, width] the LayersModel's input is fixed to. */
  inputShape: [number, number];
  classNames: string[];
  /** Anchors (w, h) in input pixels and each level's anchor indices (level 0 = stride 32). */
  anchors: [number, number][];
  anchorsMask: number[][];
  /** BatchNorm `num_batches_tracked`. */
  batchesTracked: number;
  backboneFrozen: boolean;
  /** Free-form training state (epoch, optimizer step, best metric …) owned by the trainer. */
  training: Record<string, unknown>;
  createdBy: string;
}

/** What the caller may add to a checkpoint. */
export interface SaveCheckpointOptions {
  classNames?: string[];
  anchors?: [number, number][];
  anchorsMask?: number[][];
  training?: Record<string, unknown>;
}

/** Files of a checkpoint in memory: model.json text, weight shards, sidecar text. */
export interface CheckpointFiles {
  modelJson: string;
  shards: { name: string; data: Uint8Array }[];
  sidecar: string;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

/**
 * The files of a checkpoint of `model`, without touching the disk.
 *
 * @example
 * ```ts
 * const { modelJson, shards, sidecar } = checkpointFiles(model, { classNames: ['cat', 'dog'] });
 * ```
 */
export function checkpointFiles(model: Yolo, opts: SaveCheckpointOptions = {}): CheckpointFiles {
  const classNames = opts.classNames ?? Array.from({ length: model.numClasses }, (_, i) => `class${i}`);
  if (classNames.length !== model.numClasses) {
    throw new Error(`saveCheckpoint: ${classNames.length} class names for a model with ${model.numClasses} classes; give exactly ${model.numClasses}.`);
  }
  const defaults = VARIANT_ANCHORS[model.variant];
  const meta: CheckpointMeta = {
    format: 'focal-yolo-checkpoint', version: 1, variant: model.variant, numClasses: model.numClasses, phi: model.phi,
    inputShape: model.inputShape, classNames, anchors: opts.anchors ?? defaults.anchors, anchorsMask: opts.anchorsMask ?? defaults.anchorsMask,
    batchesTracked: model.batchesTracked, backboneFrozen: model.backboneFrozen, training: opts.training ?? {},
    createdBy: `focal-yolo ${packageVersion()}`,
  };
  const total = model.params.reduce((s, p) => s + sizeOf(p.shape), 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const p of model.params) {
    all.set(model.readParam(p.key), at);
    at += sizeOf(p.shape);
  }
  const bytes = new Uint8Array(all.buffer);
  const count = Math.max(1, Math.ceil(bytes.byteLength / SHARD_BYTES));
  const shards = Array.from({ length: count }, (_, i) => ({
    name: `group1-shard${i + 1}of${count}.bin`,
    data: bytes.subarray(i * SHARD_BYTES, Math.min(bytes.byteLength, (i + 1) * SHARD_BYTES)),
  }));
  const modelJson = {
    format: 'layers-model',
    generatedBy: meta.createdBy,
    convertedBy: null,
    modelTopology: layersModelTopology(model.graph, model.inputShape, model.variant),
    weightsManifest: [{
      paths: shards.map((s) => s.name),
      weights: model.params.map((p) => ({ name: kerasWeightName(p), shape: p.shape, dtype: 'float32' })),
    }],
    userDefinedMetadata: { classNames, anchors: meta.anchors, anchorsMask: meta.anchorsMask, inputShape: meta.inputShape },
  };
  return { modelJson: JSON.stringify(modelJson), shards, sidecar: JSON.stringify(meta, null, 2) + '\n' };
}

function isOurFile(name: string): boolean {
  return name === MODEL_FILE || name === SIDECAR_FILE || /^group\d+-shard\d+of\d+\.bin$/.test(name);
}

/**
 * Writes `model` as a checkpoint directory `dir` (created or replaced; a directory holding other files is refused).
 *
 * @example
 * ```ts
 * await saveCheckpoint(model, 'runs/exp1/weights/best', { classNames, training: { epoch: 12 } });
 * ```
 */
export async function saveCheckpoint(model: Yolo, dir: string, opts: SaveCheckpointOptions = {}): Promise<void> {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new Error(`saveCheckpoint: ${dir} is a file; give a directory path for the checkpoint.`);
    const foreign = readdirSync(target).filter((f) => !isOurFile(f));
    if (foreign.length > 0) {
      throw new Error(`saveCheckpoint: ${dir} holds other files (${foreign.slice(0, 3).join(', ')}); give a new or checkpoint-only directory.`);
    }
  }
  const files = checkpointFiles(model, opts);
  writeDirectoryAtomic(target, [
    ...files.shards,
    { name: MODEL_FILE, data: files.modelJson },
    { name: SIDECAR_FILE, data: files.sidecar },
  ]);
}

function readJson(path: string, what: string): unknown {
  if (!existsSync(path)) throw new Error(`loadCheckpoint: ${path} is missing; is this a focal-yolo checkpoint directory (${what})?`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`loadCheckpoint: ${path} is not valid JSON; the checkpoint is damaged.`);
  }
}

function checkMeta(meta: CheckpointMeta, path: string): void {
  if (meta.format !== 'focal-yolo-checkpoint' || meta.version !== 1) {
    throw new Error(`loadCheckpoint: ${path} is not a focal-yolo checkpoint sidecar (format ${String(meta.format)}, version ${String(meta.version)}).`);
  }
  if (!YOLO_VARIANTS.includes(meta.variant)) throw new Error(`loadCheckpoint: ${path} names variant '${String(meta.variant)}'; expected yolov4 or yolov4-tiny.`);
  if (!Array.isArray(meta.classNames) || meta.classNames.length !== meta.numClasses) {
    throw new Error(`loadCheckpoint: ${path} lists ${meta.classNames?.length} class names for ${meta.numClasses} classes; the sidecar is damaged.`);
  }
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint}. `expect` guards against loading the wrong
 * model: a variant or class-count mismatch is an error naming both.
 *
 * @example
 * ```ts
 * const { model, meta } = await loadCheckpoint('runs/exp1/weights/best', { variant: 'yolov4-tiny', numClasses: 20 });
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  expect: { variant?: YoloVariant; numClasses?: number } = {},
): Promise<{ model: Yolo; meta: CheckpointMeta }> {
  const metaPath = join(dir, SIDECAR_FILE);
  const meta = readJson(metaPath, 'sidecar') as CheckpointMeta;
  checkMeta(meta, metaPath);
  if ((expect.variant !== undefined && expect.variant !== meta.variant) || (expect.numClasses !== undefined && expect.numClasses !== meta.numClasses)) {
    throw new Error(
      `loadCheckpoint: ${dir} holds ${meta.variant} with ${meta.numClasses} classes, but ${expect.variant ?? meta.variant} with ` +
        `${expect.numClasses ?? meta.numClasses} classes was asked for; pick the matching checkpoint or change --variant/--classes.`,
    );
  }
  const modelPath = join(dir, MODEL_FILE);
  const json = readJson(modelPath, 'model') as { format?: string; weightsManifest?: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[] };
  if (json.format !== 'layers-model' || !Array.isArray(json.weightsManifest)) {
    throw new Error(`loadCheckpoint: ${modelPath} is not a TensorFlow.js layers model (format '${String(json.format)}').`);
  }
  const model = createYolo({ variant: meta.variant, numClasses: meta.numClasses, inputShape: meta.inputShape, phi: meta.phi, seed: 0 });
  try {
    const byName = new Map(model.params.map((p) => [kerasWeightName(p), p]));
    const seen = new Set<string>();
    for (const group of json.weightsManifest) {
      const chunks = group.paths.map((p) => {
        const file = join(dir, p);
        if (!existsSync(file)) throw new Error(`loadCheckpoint: weight shard ${file} is missing; the checkpoint is incomplete.`);
        return readFileSync(file);
      });
      const data = Buffer.concat(chunks);
      const need = group.weights.reduce((s, w) => s + 4 * sizeOf(w.shape), 0);
      if (data.byteLength !== need) {
        throw new Error(`loadCheckpoint: the shards of ${modelPath} hold ${data.byteLength} bytes, the manifest needs ${need}; the checkpoint is truncated or damaged.`);
      }
      const floats = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      let at = 0;
      for (const w of group.weights) {
        const p = byName.get(w.name);
        const n = sizeOf(w.shape);
        if (p === undefined || w.dtype !== 'float32' || w.shape.join(',') !== p.shape.join(',')) {
          const want = p ? `[${p.shape.join(', ')}] float32` : 'no such weight';
          throw new Error(`loadCheckpoint: weight '${w.name}' [${w.shape.join(', ')}] ${w.dtype} in ${modelPath} does not fit ${meta.variant} (${want}).`);
        }
        model.writeParam(p.key, floats.subarray(at, at + n));
        seen.add(w.name);
        at += n;
      }
    }
    const missing = [...byName.keys()].filter((n) => !seen.has(n));
    if (missing.length > 0) throw new Error(`loadCheckpoint: ${modelPath} lacks ${missing.length} weights, e.g. '${missing[0]}'; the checkpoint is incomplete.`);
  } catch (err) {
    model.dispose();
    throw err;
  }
  model.batchesTracked = meta.batchesTracked ?? 0;
  if (meta.backboneFrozen) model.freezeBackbone();
  return { model, meta };
}
