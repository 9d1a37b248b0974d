/**
 * The YOLOv4 loss of the reference (reference-spec §2): per level, CIoU/SIoU/… box loss and BCE class
 * loss on the positives, and BCE or focal objectness loss on every cell that is not ignored.
 *
 * Assignment and the ignore mask run on typed arrays (assign.ts). Only the elements the loss reads
 * become tensors: the box and class logits of the P positives and the objectness logits of the
 * non-ignored cells, picked from the head output by one gather whose gradient scatters back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { binaryCrossEntropy, binaryFocalLoss, boxIou, IOU_TYPES, type IouType } from '../losses/index.js';
import { assignTargets, bestAnchors, ignoreMask, type AssignOptions } from './assign.js';
import { gatherFlat } from './gather.js';

/** Options of {@link YoloLoss}. */
export interface YoloLossOptions {
  /** Network input [height, width] in pixels, multiples of 32. */
  inputShape: [number, number];
  /** Number of classes C. */
  numClasses: number;
  /** All anchors (w, h) in input pixels, e.g. `YOLOV4_ANCHORS`. */
  anchors: readonly (readonly [number, number])[];
  /** Anchor indices per level, level 0 (stride 32) first, e.g. `YOLOV4_ANCHORS_MASK`. */
  anchorsMask: readonly (readonly number[])[];
  /** Focal objectness loss (α_t·(1 − p_t)^γ·BCE, × 10) instead of BCE. Default false. */
  focalLoss?: boolean;
  /** Focal α for positives (negatives get 1 − α). Default 0.25. */
  focalAlpha?: number;
  /** Focal γ. Default 2. */
  focalGamma?: number;
  /** Box loss. Default `'ciou'`. */
  iouType?: IouType;
  /**
   * Class label smoothing ε: class targets of positives become y·(1 − ε) + ε/C. Default 0.
   * The reference accepts this option but never applies it; here it works.
   */
  labelSmoothing?: number;
}

/** The parts of one level's loss (or of all levels, summed), for logging. */
export interface LevelLossParts {
  /** Box term: 0.05 · mean(1 − IoU) over positives. */
  box: number;
  /** Objectness term from positive cells (after focal factor, balance and ratio). */
  objPositive: number;
  /** Objectness term from non-ignored negative cells. */
  objNegative: number;
  /** Class term: C/80 · mean BCE over positives × classes. */
  cls: number;
  /** Positive cells. */
  numPositives: number;
  /** Negative cells left out of the objectness loss (IoU > 0.5 with a ground truth). */
  numIgnored: number;
  /** Share of the objectness term from easy negatives (p < 0.1), in [0, 1]. */
  easyNegativeShare: number;
}

/** Loss parts of {@link YoloLoss.total}: the sums over levels plus each level's parts. */
export interface LossParts extends LevelLossParts {
  levels: LevelLossParts[];
}

/** Balance of the objectness term per level (13×13 → 0.4, 26×26 → 1, 52×52 → 4). */
export const LEVEL_BALANCE: readonly number[] = [0.4, 1.0, 4];
const BOX_RATIO = 0.05;
const FOCAL_LOSS_RATIO = 10;
const IGNORE_THRESHOLD = 0.5;
const EASY_NEGATIVE_P = 0.1;

/**
 * The reference YOLOv4 / YOLOv4-tiny loss. Raw head outputs are NHWC with channel
 * a·(5+C) + attribute (tx, ty, tw, th, objectness, classes…), level 0 = stride 32.
 *
 * Per level l: loss_l = 0.05·mean(1 − IoU) + C/80·mean BCE(cls) (when the level has positives)
 * + mean over non-ignored cells of BCE or 10·focal(obj) · balance[l] · 5·H·W/416².
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { YoloLoss, YOLOV4_ANCHORS, YOLOV4_ANCHORS_MASK } from 'focal-yolo';
 * const yolo = new YoloLoss({ inputShape: [416, 416], numClasses: 20, anchors: YOLOV4_ANCHORS,
 *   anchorsMask: YOLOV4_ANCHORS_MASK, focalLoss: true });
 * const targets = [new Float32Array([0.5, 0.4, 0.2, 0.3, 7])];           // one image, one box
 * const raws = [13, 26, 52].map((s) => tf.randomNormal([1, s, s, 75]) as tf.Tensor4D);
 * const grads = tf.grads((...r: tf.Tensor[]) => yolo.total(r as tf.Tensor4D[], targets).loss)(raws);
 * const { loss, parts } = yolo.total(raws, targets);
 * console.log(loss.dataSync()[0], parts.numPositives, parts.easyNegativeShare);
 * ```
 */
export class YoloLoss {
  readonly options: Readonly<Required<YoloLossOptions>>;
  private readonly assign: AssignOptions;
  private readonly objRatio: number;
  private readonly clsRatio: number;

  constructor(opts: YoloLossOptions) {
    this.options = validateOptions(opts);
    const o = this.options;
    this.assign = { inputShape: o.inputShape, numClasses: o.numClasses, anchors: o.anchors, anchorsMask: o.anchorsMask, labelSmoothing: o.labelSmoothing };
    this.objRatio = (5 * (o.inputShape[0] * o.inputShape[1])) / (416 * 416);
    this.clsRatio = o.numClasses / 80;
  }

  /** Number of output levels (anchor masks). */
  get numLevels(): number {
    return this.options.anchorsMask.length;
  }

  /**
   * The loss of level `l` alone (already weighted by its balance and ratios).
   *
   * @param l level, 0 = stride 32
   * @param raw [B, H, W, A·(5+C)] raw head output of that level
   * @param targets B arrays of rows [cx, cy, w, h, class], box values in 0..1 of the input
   * @example
   * const l0 = yolo.level(0, raws[0], targets); // tf.Scalar
   */
  level(l: number, raw: tf.Tensor4D, targets: readonly Float32Array[]): tf.Scalar {
    this.checkLevel(l, raw);
    validateTargets(targets, raw.shape[0], this.options.numClasses);
    return this.levelLoss(l, raw, targets, false).loss;
  }

  /**
   * The training loss: the plain sum of the level losses, and its parts for logging.
   *
   * @param raws one raw head output per level, level 0 (stride 32) first
   * @param targets B arrays of rows [cx, cy, w, h, class], box values in 0..1 of the input
   * @example
   * const { loss, parts } = yolo.total(model.predictRaw(images, true), batch.targets);
   */
  total(raws: readonly tf.Tensor4D[], targets: readonly Float32Array[]): { loss: tf.Scalar; parts: LossParts } {
    if (raws.length !== this.numLevels) {
      throw new Error(`YoloLoss.total: got ${raws.length} head outputs but anchorsMask has ${this.numLevels} levels; pass one raw tensor per level, level 0 (stride 32) first.`);
    }
    raws.forEach((raw, l) => this.checkLevel(l, raw));
    validateTargets(targets, raws[0].shape[0], this.options.numClasses);
    const levels: LevelLossParts[] = [];
    const loss = tf.tidy(() => tf.addN(raws.map((raw, l) => {
      const { loss: levelLoss, parts } = this.levelLoss(l, raw, targets, true);
      levels.push(parts as LevelLossParts);
      return levelLoss;
    }))) as tf.Scalar;
    return { loss, parts: sumParts(levels) };
  }

  private checkLevel(l: number, raw: tf.Tensor): void {
    const { inputShape, numClasses, anchorsMask } = this.options;
    if (!Number.isInteger(l) || l < 0 || l >= anchorsMask.length) {
      throw new Error(`YoloLoss: level ${l} does not exist; use 0…${anchorsMask.length - 1} (0 = stride 32).`);
    }
    if (!(raw instanceof tf.Tensor) || raw.rank !== 4) {
      throw new Error(`YoloLoss: level ${l} raw output must be a 4-D NHWC tensor [B, H, W, channels], got ${raw instanceof tf.Tensor ? `shape [${raw.shape.join(',')}]` : typeof raw}.`);
    }
    const [, h, w, ch] = raw.shape;
    const stride = 32 / 2 ** l;
    const expectH = inputShape[0] / stride;
    const expectW = inputShape[1] / stride;
    if (h !== expectH || w !== expectW) {
      throw new Error(`YoloLoss: level ${l} raw output has grid ${h}×${w} but inputShape [${inputShape.join(', ')}] at stride ${stride} gives ${expectH}×${expectW}; check inputShape and the level order (stride 32 first).`);
    }
    const expectCh = anchorsMask[l].length * (5 + numClasses);
    if (ch !== expectCh) {
      throw new Error(`YoloLoss: level ${l} raw output has ${ch} channels but ${anchorsMask[l].length} anchors × (5 + ${numClasses} classes) = ${expectCh}; check numClasses.`);
    }
  }

  private levelLoss(l: number, raw: tf.Tensor4D, targets: readonly Float32Array[], wantParts: boolean): { loss: tf.Scalar; parts?: LevelLossParts } {
    const o = this.options;
    const [, H, W] = raw.shape;
    const A = o.anchorsMask[l].length;
    const C = o.numClasses;
    const D = 5 + C;
    const grid: [number, number] = [H, W];
    const values = raw.dataSync();
    const pos = assignTargets(targets, l, grid, this.assign, bestAnchors(targets, this.assign));
    const ignored = ignoreMask(values, targets, l, grid, this.assign, IGNORE_THRESHOLD);
    const P = pos.numPositives;
    for (let p = 0; p < P; p++) ignored[pos.cell[p]] = 2; // 2 = positive: neither ignored nor negative
    let Q = 0;
    let numIgnored = 0;
    for (let c = 0; c < ignored.length; c++) {
      if (ignored[c] === 0) Q++;
      else if (ignored[c] === 1) numIgnored++;
    }

    // one gather: [box P·4 | classes P·C | objectness of positives P | objectness of negatives Q]
    const indices = new Int32Array(P * (4 + C + 1) + Q);
    let e = 0;
    for (let p = 0; p < P; p++) for (let a = 0; a < 4; a++) indices[e++] = pos.cell[p] * D + a;
    for (let p = 0; p < P; p++) for (let a = 0; a < C; a++) indices[e++] = pos.cell[p] * D + 5 + a;
    for (let p = 0; p < P; p++) indices[e++] = pos.cell[p] * D + 4;
    for (let c = 0; c < ignored.length; c++) if (ignored[c] === 0) indices[e++] = c * D + 4;

    // grid offsets and anchors (grid units) of the positives, for decoding their boxes
    const [inH, inW] = o.inputShape;
    const offset = new Float32Array(P * 2);
    const anchorWH = new Float32Array(P * 2);
    for (let p = 0; p < P; p++) {
      const cell = pos.cell[p];
      const k = cell % A;
      const i = Math.floor(cell / A) % W;
      const j = Math.floor(cell / (A * W)) % H;
      const anchor = o.anchors[o.anchorsMask[l][k]];
      offset[2 * p] = i;
      offset[2 * p + 1] = j;
      anchorWH[2 * p] = anchor[0] / (inW / W);
      anchorWH[2 * p + 1] = anchor[1] / (inH / H);
    }

    let parts: LevelLossParts | undefined;
    const loss = tf.tidy(() => {
      const picked = gatherFlat(raw, values, indices);
      let valid: number[] | undefined; // positives kept after dropping NaN IoUs (undefined: all)
      let boxTerm: tf.Scalar | undefined;
      let clsTerm: tf.Scalar | undefined;
      if (P > 0) {
        const t = tf.reshape(tf.slice(picked, 0, P * 4), [P, 4]);
        const xy = tf.add(tf.sigmoid(tf.slice(t, [0, 0], [P, 2])), tf.tensor2d(offset, [P, 2]));
        const wh = tf.mul(tf.exp(tf.slice(t, [0, 2], [P, 2])), tf.tensor2d(anchorWH, [P, 2]));
        let iou = boxIou(tf.concat([xy, wh], 1), tf.tensor2d(pos.box, [P, 4]), { type: o.iouType });
        let logits = tf.reshape(tf.slice(picked, P * 4, P * C), [P, C]);
        let classTargets = tf.tensor2d(pos.classes, [P, C]);
        // a positive whose IoU is NaN drops out of every term (reference §2.7)
        const iouValues = iou.dataSync();
        if (iouValues.some(Number.isNaN)) {
          valid = [];
          iouValues.forEach((v, p) => { if (!Number.isNaN(v)) valid?.push(p); });
          const keep = tf.tensor1d(valid, 'int32');
          iou = tf.gather(iou, keep);
          logits = tf.gather(logits, keep);
          classTargets = tf.gather(classTargets, keep);
        }
        if (valid === undefined || valid.length > 0) {
          boxTerm = tf.mul(tf.mean(tf.sub(1, iou)), BOX_RATIO) as tf.Scalar;
          clsTerm = tf.mul(binaryCrossEntropy(classTargets, tf.sigmoid(logits)), this.clsRatio) as tf.Scalar;
        }
      }
      const Pv = valid === undefined ? P : valid.length;
      let objLogits = tf.slice(picked, P * (4 + C), P + Q);
      if (valid !== undefined) {
        objLogits = tf.gather(objLogits, tf.tensor1d([...valid, ...Array.from({ length: Q }, (_, q) => P + q)], 'int32'));
      }
      const conf = tf.sigmoid(objLogits);
      const objTargets = new Float32Array(Pv + Q);
      objTargets.fill(1, 0, Pv);
      const elementwise = o.focalLoss
        ? tf.mul(binaryFocalLoss(objTargets, conf, { alpha: o.focalAlpha, gamma: o.focalGamma, reduction: 'none' }), FOCAL_LOSS_RATIO)
        : binaryCrossEntropy(objTargets, conf, { reduction: 'none' });
      const scale = LEVEL_BALANCE[l] * this.objRatio;
      const objTerm = tf.mul(tf.mean(elementwise), scale);
      if (wantParts) {
        parts = levelParts(elementwise.dataSync(), conf.dataSync(), Pv, scale, boxTerm, clsTerm);
        parts.numPositives = P;
        parts.numIgnored = numIgnored;
      }
      const terms = [boxTerm, clsTerm, objTerm].filter((x): x is tf.Scalar => x !== undefined);
      return tf.addN(terms) as tf.Scalar;
    });
    return { loss, parts };
  }
}

// Splits the objectness term into positives, negatives and easy negatives (numbers, no gradient).
function levelParts(
  elementwise: ArrayLike<number>, conf: ArrayLike<number>, numPositives: number, scale: number,
  boxTerm: tf.Scalar | undefined, clsTerm: tf.Scalar | undefined,
): LevelLossParts {
  const n = elementwise.length;
  let positive = 0;
  let negative = 0;
  let easy = 0;
  for (let e = 0; e < n; e++) {
    const v = elementwise[e];
    if (e < numPositives) positive += v;
    else {
      negative += v;
      if (conf[e] < EASY_NEGATIVE_P) easy += v;
    }
  }
  const total = positive + negative;
  return {
    box: boxTerm ? boxTerm.dataSync()[0] : 0,
    objPositive: n > 0 ? (positive / n) * scale : 0,
    objNegative: n > 0 ? (negative / n) * scale : 0,
    cls: clsTerm ? clsTerm.dataSync()[0] : 0,
    numPositives: 0,
    numIgnored: 0,
    easyNegativeShare: total > 0 ? easy / total : 0,
  };
}

function sumParts(levels: LevelLossParts[]): LossParts {
  const sum = (key: keyof LevelLossParts) => levels.reduce((s, p) => s + p[key], 0);
  const obj = levels.map((p) => p.objPositive + p.objNegative);
  const objTotal = obj.reduce((s, v) => s + v, 0);
  // easy-negative share of the summed objectness term, each level weighted by its term
  const easy = levels.reduce((s, p, l) => s + p.easyNegativeShare * obj[l], 0);
  return {
    box: sum('box'), objPositive: sum('objPositive'), objNegative: sum('objNegative'), cls: sum('cls'),
    numPositives: sum('numPositives'), numIgnored: sum('numIgnored'),
    easyNegativeShare: objTotal > 0 ? easy / objTotal : 0,
    levels,
  };
}

function validateOptions(opts: YoloLossOptions): Readonly<Required<YoloLossOptions>> {
  const op = 'YoloLoss';
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options missing; pass { inputShape, numClasses, anchors, anchorsMask }.`);
  const { inputShape, numClasses, anchors, anchorsMask } = opts;
  if (!Array.isArray(inputShape) || inputShape.length !== 2 || inputShape.some((s) => !Number.isInteger(s) || s <= 0 || s % 32 !== 0)) {
    throw new Error(`${op}: inputShape = ${JSON.stringify(inputShape)} is invalid; use [height, width], positive multiples of 32 (e.g. [416, 416]).`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${op}: numClasses = ${String(numClasses)} is invalid; use a positive integer (e.g. 20 for VOC).`);
  }
  if (!Array.isArray(anchors) || anchors.length === 0 || anchors.some((a) => !Array.isArray(a) || a.length !== 2 || a.some((v) => !Number.isFinite(v) || v <= 0))) {
    throw new Error(`${op}: anchors = ${JSON.stringify(anchors)} is invalid; use pairs [w, h] > 0 in input pixels (e.g. YOLOV4_ANCHORS).`);
  }
  if (!Array.isArray(anchorsMask) || anchorsMask.length === 0 || anchorsMask.length > LEVEL_BALANCE.length
    || anchorsMask.some((m) => !Array.isArray(m) || m.length === 0 || m.some((a) => !Number.isInteger(a) || a < 0 || a >= anchors.length))) {
    throw new Error(`${op}: anchorsMask = ${JSON.stringify(anchorsMask)} is invalid; use 1…${LEVEL_BALANCE.length} lists of anchor indices 0…${anchors.length - 1} (e.g. YOLOV4_ANCHORS_MASK).`);
  }
  const focalAlpha = opts.focalAlpha ?? 0.25;
  if (typeof focalAlpha !== 'number' || !(focalAlpha >= 0 && focalAlpha <= 1)) {
    throw new Error(`${op}: focalAlpha = ${String(opts.focalAlpha)} is invalid; use a number in [0, 1] (e.g. 0.25).`);
  }
  const focalGamma = opts.focalGamma ?? 2;
  if (typeof focalGamma !== 'number' || !Number.isFinite(focalGamma) || focalGamma < 0) {
    throw new Error(`${op}: focalGamma = ${String(opts.focalGamma)} is invalid; use a finite number ≥ 0 (e.g. 2).`);
  }
  const iouType = opts.iouType ?? 'ciou';
  if (!IOU_TYPES.includes(iouType)) {
    throw new Error(`${op}: iouType = ${JSON.stringify(opts.iouType)} is invalid; use one of ${IOU_TYPES.join(', ')}.`);
  }
  const labelSmoothing = opts.labelSmoothing ?? 0;
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new Error(`${op}: labelSmoothing = ${String(opts.labelSmoothing)} is invalid; use a number in [0, 1) (e.g. 0 or 0.005).`);
  }
  return {
    inputShape: [inputShape[0], inputShape[1]], numClasses, anchors, anchorsMask,
    focalLoss: opts.focalLoss ?? false, focalAlpha, focalGamma, iouType, labelSmoothing,
  };
}

/**
 * Checks ground truths: one Float32Array per image of rows [cx, cy, w, h, class] with cx, cy in
 * [0, 1], w, h in (0, 1] and an integer class in [0, numClasses).
 *
 * @example
 * validateTargets([new Float32Array([0.5, 0.5, 0.2, 0.2, 3])], 1, 20); // ok
 */
export function validateTargets(targets: readonly Float32Array[], batch: number, numClasses: number): void {
  const op = 'YoloLoss';
  if (!Array.isArray(targets) || targets.length !== batch) {
    throw new Error(`${op}: targets has ${Array.isArray(targets) ? targets.length : typeof targets} entries for a batch of ${batch}; pass one Float32Array of rows [cx, cy, w, h, class] per image.`);
  }
  targets.forEach((rows, b) => {
    if (!(rows instanceof Float32Array) || rows.length % 5 !== 0) {
      throw new Error(`${op}: targets[${b}] must be a Float32Array of rows [cx, cy, w, h, class] (length a multiple of 5), got ${rows instanceof Float32Array ? `length ${rows.length}` : typeof rows}.`);
    }
    for (let r = 0; r < rows.length; r += 5) {
      const [cx, cy, w, h, cls] = rows.subarray(r, r + 5);
      const where = `${op}: targets[${b}] row ${r / 5} = [${Array.from(rows.subarray(r, r + 5)).join(', ')}]`;
      if (!Number.isInteger(cls) || cls < 0 || cls >= numClasses) {
        throw new Error(`${where} has class ${cls}, outside 0…${numClasses - 1}; check the class list or numClasses.`);
      }
      if (!(cx >= 0 && cx <= 1 && cy >= 0 && cy <= 1)) {
        throw new Error(`${where} has its centre outside 0..1; boxes must be normalised by the input width and height.`);
      }
      if (!(w > 0 && w <= 1 && h > 0 && h <= 1)) {
        throw new Error(`${where} has w or h outside (0, 1]; drop empty boxes and normalise by the input size.`);
      }
    }
  });
}
