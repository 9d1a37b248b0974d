/**
 * Training checkpoints: a model checkpoint directory (loadable by `loadCheckpoint` and by plain
 * tfjs) plus, for resuming, `train-state.json` and `train-state.bin` (optimizer slots, EMA averages)
 * in the same directory. The whole directory is written to a temporary sibling and renamed into
 * place, so a crash leaves either the old checkpoint or the new one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointFiles, loadCheckpoint, type CheckpointMeta, type SaveCheckpointOptions, type Yolo } from '../models/index.js';
import { writeDirectoryAtomic } from '../util/atomic.js';
import type { TrainConfig } from './config.js';
import type { ModelEMA } from './ema.js';
import type { EpochRecord } from './history.js';
import type { OptimizerState, ReferenceOptimizer } from './optimizer.js';

/** Resume state file names inside a checkpoint directory. */
export const TRAIN_STATE_FILE = 'train-state.json';
export const TRAIN_TENSORS_FILE = 'train-state.bin';

/** A tensor stored in `train-state.bin`: name, shape, float32 offset. */
interface StoredTensor {
  name: string;
  shape: number[];
  offset: number;
}

/** Everything besides the weights that a resumed run needs to continue exactly. */
export interface TrainState {
  format: 'focal-yolo-train-state';
  version: 1;
  /** The run's options (a resumed run uses them). */
  config: TrainConfig;
  /** Epochs completed = the 0-based epoch a resumed run starts with. */
  epochsDone: number;
  /** Optimizer steps so far. */
  step: number;
  /** Best validation mAP so far and its (1-based) epoch; null before the first evaluation. */
  best: { map: number; epoch: number } | null;
  /** Lowest validation loss so far (the fallback for `best` when the run never evaluates mAP). */
  bestValLoss: number | null;
  /** The data order and augmentation derive from (seed, epoch, position): the seed and next epoch are the RNG state. */
  rng: { seed: number; nextEpoch: number };
  /** Per-epoch records so far (the history a resumed run continues). */
  history: EpochRecord[];
  optimizer: { type: OptimizerState['type']; steps: Record<string, number>; slots: StoredTensor[] };
  ema: { updates: number; values: StoredTensor[] } | null;
}

/** What a training checkpoint holds besides the model. */
export interface TrainingCheckpointContent extends SaveCheckpointOptions {
  /** With `state`, `optimizer` (and `ema`) the directory can be resumed from. */
  state?: Omit<TrainState, 'format' | 'version' | 'optimizer' | 'ema'>;
  optimizer?: ReferenceOptimizer;
  ema?: ModelEMA;
}

/** Parameter key (e.g. `backbone.conv1.conv.weight`) of each variable name of `model`. */
function keyOfVariable(model: Yolo): Map<string, string> {
  return new Map(model.params.map((p) => [model.variable(p.key).name, p.key]));
}

/** Packs named tensors (renamed by `rename`) into one float32 buffer. */
function pack(named: tf.NamedTensorMap, rename: (name: string) => string, into: { chunks: Float32Array[]; size: number }): StoredTensor[] {
  const out: StoredTensor[] = [];
  for (const [name, t] of Object.entries(named)) {
    const data = t.dataSync() as Float32Array;
    const entry = { name: rename(name), shape: t.shape, offset: into.size };
    into.chunks.push(Float32Array.from(data));
    into.size += data.length;
    out.push(entry);
  }
  tf.dispose(Object.values(named));
  return out;
}

/**
 * Renames variable names, or `<variable>/<slot>` names when `slots`, to parameter keys (variable
 * names differ between model instances; a slot name never contains '/').
 */
function renamer(map: Map<string, string>, what: string, slots: boolean): (name: string) => string {
  return (name) => {
    const cut = slots ? name.lastIndexOf('/') : name.length;
    const key = map.get(name.slice(0, cut));
    if (key === undefined || cut < 0) throw new Error(`training checkpoint: ${what} '${name}' belongs to no parameter of the model`);
    return `${key}${name.slice(cut)}`;
  };
}

/**
 * Writes a training checkpoint directory atomically: the model (as `saveCheckpoint` would), and with
 * `state` + `optimizer` the resume files.
 *
 * @example
 * ```ts
 * await saveTrainingCheckpoint(model, 'runs/train/exp/weights/last', { classNames, state, optimizer, ema });
 * ```
 */
export async function saveTrainingCheckpoint(model: Yolo, dir: string, content: TrainingCheckpointContent = {}): Promise<void> {
  const extra: { name: string; data: string | Uint8Array }[] = [];
  if (content.state !== undefined) {
    if (content.optimizer === undefined) throw new Error('saveTrainingCheckpoint: a resumable checkpoint needs the optimizer');
    const toKey = keyOfVariable(model);
    const buffer = { chunks: [] as Float32Array[], size: 0 };
    const opt = content.optimizer.getState();
    const slots = pack(opt.slots, renamer(toKey, 'optimizer slot', true), buffer);
    const steps = Object.fromEntries(Object.entries(opt.steps).map(([name, n]) => [renamer(toKey, 'optimizer step count', false)(name), n]));
    const ema = content.ema ? { updates: content.ema.updates, values: pack(content.ema.state(), renamer(toKey, 'EMA average', false), buffer) } : null;
    const state: TrainState = { format: 'focal-yolo-train-state', version: 1, ...content.state, optimizer: { type: opt.type, steps, slots }, ema };
    const all = new Float32Array(buffer.size);
    let at = 0;
    for (const c of buffer.chunks) {
      all.set(c, at);
      at += c.length;
    }
    extra.push({ name: TRAIN_TENSORS_FILE, data: new Uint8Array(all.buffer) });
    extra.push({ name: TRAIN_STATE_FILE, data: JSON.stringify(state) + '\n' });
  }
  const files = checkpointFiles(model, content);
  writeDirectoryAtomic(dir, [
    ...files.shards.map((s) => ({ name: s.name, data: s.data })),
    { name: 'model.json', data: files.modelJson },
    { name: 'focal-yolo.json', data: files.sidecar },
    ...extra,
  ]);
}

/** A resumable checkpoint read back: the model, its sidecar, the state and the stored tensors by name. */
export interface LoadedTrainingCheckpoint {
  model: Yolo;
  meta: CheckpointMeta;
  state: TrainState;
  /** Optimizer slots keyed by `<variable name>/<slot>` of `model`, step counts by variable name. */
  optimizerState: OptimizerState;
  /** EMA averages keyed by variable name of `model`, or null. */
  ema: { updates: number; values: tf.NamedTensorMap } | null;
}

/**
 * Reads a checkpoint written with resume state (the run's `weights/last`).
 *
 * @example
 * ```ts
 * const { model, state, optimizerState } = await loadTrainingCheckpoint('runs/train/exp/weights/last');
 * ```
 */
export async function loadTrainingCheckpoint(dir: string): Promise<LoadedTrainingCheckpoint> {
  const statePath = join(dir, TRAIN_STATE_FILE);
  const binPath = join(dir, TRAIN_TENSORS_FILE);
  if (!existsSync(statePath) || !existsSync(binPath)) {
    throw new Error(`resume: ${dir} has no ${TRAIN_STATE_FILE}/${TRAIN_TENSORS_FILE}; resume from a run's weights/last (or the run folder)`);
  }
  let state: TrainState;
  try {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainState;
  } catch {
    throw new Error(`resume: ${statePath} is not valid JSON; the checkpoint is damaged`);
  }
  if (state.format !== 'focal-yolo-train-state' || state.version !== 1) {
    throw new Error(`resume: ${statePath} is not a focal-yolo training state (format ${String(state.format)})`);
  }
  const bytes = readFileSync(binPath);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const { model, meta } = await loadCheckpoint(dir);
  // stored names are parameter keys (no '/'), slots `<key>/<slot>`
  const nameOf = (key: string) => {
    const cut = key.indexOf('/');
    return cut < 0 ? model.variable(key).name : `${model.variable(key.slice(0, cut)).name}${key.slice(cut)}`;
  };
  const read = (entries: StoredTensor[]): tf.NamedTensorMap => {
    const out: tf.NamedTensorMap = {};
    for (const e of entries) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (e.offset + n > floats.length) throw new Error(`resume: ${binPath} is truncated (tensor '${e.name}' is beyond its end)`);
      out[nameOf(e.name)] = tf.tensor(floats.subarray(e.offset, e.offset + n), e.shape, 'float32');
    }
    return out;
  };
  try {
    const optimizerState: OptimizerState = {
      type: state.optimizer.type,
      steps: Object.fromEntries(Object.entries(state.optimizer.steps).map(([k, n]) => [nameOf(k), n])),
      slots: read(state.optimizer.slots),
    };
    const ema = state.ema ? { updates: state.ema.updates, values: read(state.ema.values) } : null;
    return { model, meta, state, optimizerState, ema };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
