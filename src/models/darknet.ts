/**
 * Darknet `.weights` files (reference-spec §8): a little-endian header (major, minor, revision int32,
 * `seen` uint64 when major·10+minor ≥ 2, else uint32), then float32 parameters conv by conv in cfg
 * order — BatchNorm convs as β, γ, running mean, running variance, OIHW weights; head convs as bias,
 * OIHW weights. Our graph's conv order is the cfg's, so the file is read and written in one walk.
 */
import type { ConvNode } from './graph.js';
import { fromTorchLayout, toTorchLayout, type ParamRole, type ParamSpec } from './params.js';
import type { Yolo } from './yolo.js';

/** The header of a Darknet weights file. */
export interface DarknetHeader {
  major: number;
  minor: number;
  revision: number;
  /** Images seen in training. */
  seen: number;
}

/** What {@link loadDarknetWeights} found. */
export interface DarknetLoadInfo {
  header: DarknetHeader;
  /** The class count the file's heads were written for. */
  fileClasses: number;
  /** False when the file's class count differs from the model's: the head output convs keep their initialisation. */
  headsLoaded: boolean;
}

/** AlexeyAB darknet's current format version (0.2.5, 64-bit `seen`). */
export const DARKNET_VERSION = { major: 0, minor: 2, revision: 5 } as const;

function headerBytes(major: number, minor: number): number {
  return major * 10 + minor >= 2 ? 20 : 16;
}

/** Darknet's order of a conv's arrays. */
function convOrder(node: ConvNode): ParamRole[] {
  return node.batchNorm ? ['beta', 'gamma', 'movingMean', 'movingVariance', 'kernel'] : ['bias', 'kernel'];
}

function convs(model: Yolo): { node: ConvNode; params: Map<ParamRole, ParamSpec> }[] {
  const out: { node: ConvNode; params: Map<ParamRole, ParamSpec> }[] = [];
  model.graph.nodes.forEach((node, i) => {
    if (node.kind !== 'conv') return;
    out.push({ node, params: new Map(model.params.filter((p) => p.node === i).map((p) => [p.role, p])) });
  });
  return out;
}

/** Floats of one conv whose head has `classes` classes (heads only depend on it). */
function convFloats(node: ConvNode, classes: number): number {
  const filters = node.batchNorm ? node.filters : 3 * (5 + classes);
  return (node.batchNorm ? 4 * filters : filters) + filters * node.inChannels * node.kernel * node.kernel;
}

/**
 * Bytes of a Darknet file for `model`'s architecture with `classes` classes (20-byte header).
 *
 * @example
 * ```ts
 * darknetFileSize(createYolo({ variant: 'yolov4', numClasses: 80 })); // 257717640, as yolov4.weights
 * ```
 */
export function darknetFileSize(model: Yolo, classes = model.numClasses): number {
  return 20 + 4 * convs(model).reduce((s, c) => s + convFloats(c.node, classes), 0);
}

/**
 * Reads the header of a Darknet weights file.
 *
 * @example
 * ```ts
 * readDarknetHeader(readFileSync('yolov4.weights')); // { major: 0, minor: 2, revision: 5, seen: 32032000 }
 * ```
 */
export function readDarknetHeader(bytes: Uint8Array, source = 'darknet weights'): DarknetHeader {
  if (bytes.byteLength < 16) throw new Error(`${source}: ${bytes.byteLength} bytes is too short for a Darknet header (16 or 20 bytes).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = view.getInt32(0, true);
  const minor = view.getInt32(4, true);
  const revision = view.getInt32(8, true);
  const wide = headerBytes(major, minor) === 20;
  if (wide && bytes.byteLength < 20) throw new Error(`${source}: ${bytes.byteLength} bytes is too short for a version ${major}.${minor} header (20 bytes).`);
  const seen = wide ? Number(view.getBigUint64(12, true)) : view.getUint32(12, true);
  return { major, minor, revision, seen };
}

/**
 * Loads a Darknet `.weights` file (yolov4.weights / yolov4-tiny.weights or our exports) into `model`.
 * When the file was written for another class count (inferred from its size, or `fileClasses`), the
 * head output convs are skipped — their bytes still advance the offset — and keep their initialisation,
 * as the reference's shape-matched partial loading does. A file of any other size is refused.
 *
 * @example
 * ```ts
 * const model = createYolo({ variant: 'yolov4-tiny', numClasses: 80, inputShape: [416, 416] });
 * loadDarknetWeights(model, readFileSync('yolov4-tiny.weights'));
 * ```
 */
export function loadDarknetWeights(
  model: Yolo,
  weights: Uint8Array,
  opts: { fileClasses?: number; source?: string } = {},
): DarknetLoadInfo {
  const source = opts.source ?? 'darknet weights';
  const header = readDarknetHeader(weights, source);
  const start = headerBytes(header.major, header.minor);
  const layers = convs(model);
  const fixed = layers.reduce((s, c) => s + (c.node.batchNorm ? convFloats(c.node, 0) : 0), 0);
  // floats of the head convs per unit of 3·(5+C) filters
  const perFilter = layers.reduce((s, c) => s + (c.node.batchNorm ? 0 : c.node.inChannels * c.node.kernel * c.node.kernel + 1), 0);
  const expectedFor = (classes: number) => start + 4 * (fixed + 3 * (5 + classes) * perFilter);
  let fileClasses = opts.fileClasses;
  if (fileClasses === undefined) {
    const inferred = ((weights.byteLength - start) / 4 - fixed) / (3 * perFilter) - 5;
    fileClasses = Number.isInteger(inferred) && inferred >= 1 ? inferred : model.numClasses;
  }
  const expected = expectedFor(fileClasses);
  if (weights.byteLength !== expected) {
    const what = weights.byteLength < expected ? 'truncated or for a smaller network' : 'too long';
    throw new Error(
      `${source}: ${weights.byteLength} bytes, expected ${expected} bytes for ${model.variant} with ${fileClasses} classes ` +
        `(header ${start} + 4 × ${(expected - start) / 4} floats); the file is ${what} — check --variant and --classes.`,
    );
  }
  const headsLoaded = fileClasses === model.numClasses;
  const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  let offset = start;
  const take = (count: number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++, offset += 4) out[i] = view.getFloat32(offset, true);
    return out;
  };
  for (const { node, params } of layers) {
    if (!node.batchNorm && !headsLoaded) {
      offset += 4 * convFloats(node, fileClasses);
      continue;
    }
    for (const role of convOrder(node)) {
      const p = params.get(role) as ParamSpec;
      const count = p.shape.reduce((a, b) => a * b, 1);
      model.writeParam(p.key, fromTorchLayout(p, take(count)));
    }
  }
  return { header, fileClasses, headsLoaded };
}

/**
 * Writes `model` as a Darknet `.weights` file (version 0.2.5 with a 64-bit `seen` unless given).
 * Attention blocks (tiny `phi` > 0) have no Darknet counterpart and are not written.
 *
 * @example
 * ```ts
 * writeFileSync('my.weights', saveDarknetWeights(model, { seen: 64000 }));
 * ```
 */
export function saveDarknetWeights(model: Yolo, header: Partial<DarknetHeader> = {}): Uint8Array {
  const h = { ...DARKNET_VERSION, seen: 0, ...header };
  const start = headerBytes(h.major, h.minor);
  const total = darknetFileSize(model) - 20 + start;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, h.major, true);
  view.setInt32(4, h.minor, true);
  view.setInt32(8, h.revision, true);
  if (start === 20) view.setBigUint64(12, BigInt(h.seen), true);
  else view.setUint32(12, h.seen, true);
  let offset = start;
  for (const { node, params } of convs(model)) {
    for (const role of convOrder(node)) {
      const p = params.get(role) as ParamSpec;
      const data = toTorchLayout(p, model.readParam(p.key));
      for (let i = 0; i < data.length; i++, offset += 4) view.setFloat32(offset, data[i], true);
    }
  }
  return bytes;
}
