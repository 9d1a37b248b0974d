/**
 * The YOLOv4 loss of the reference (reference-spec §2): per level, CIoU/SIoU/… box loss and BCE class
 * loss on the positives, and BCE or focal objectness loss on every cell that is not ignored.
 *
 * Assignment and the ignore mask run on typed arrays (assign.ts, plan.ts). Only the elements the loss
 * reads become tensors: the box and class logits of the positives and the objectness logits of the
 * non-ignored cells, picked from the head outputs by one gather whose gradient scatters back. All
 * levels share one pass of tensor ops; each level's mean becomes a per-element weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import { binaryCrossEntropy, binaryFocalLoss, boxIou, type IouType } from '../losses/index.js';
import { bestAnchors, type AssignOptions } from './assign.js';
import { gatherFlat, weightedSum } from './ops.js';
import { planLevel, type LevelPlan } from './plan.js';
import { validateOptions, validateTargets } from './validate.js';

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
    return this.compute([l], [raw], targets, false).loss;
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
    const batch = raws[0].shape[0];
    raws.forEach((raw, l) => {
      if (raw.shape[0] !== batch) {
        throw new Error(`YoloLoss.total: level ${l} has batch ${raw.shape[0]} but level 0 has ${batch}; pass the heads of one forward pass.`);
      }
    });
    validateTargets(targets, batch, this.options.numClasses);
    const { loss, levels } = this.compute(raws.map((_, l) => l), raws, targets, true);
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

  /** The summed loss of `levels` (raws[s] is level levels[s]), and each level's parts if asked. */
  private compute(levels: number[], raws: readonly tf.Tensor4D[], targets: readonly Float32Array[], wantParts: boolean): { loss: tf.Scalar; levels: LevelLossParts[] } {
    const o = this.options;
    const C = o.numClasses;
    const values = raws.map((raw) => raw.dataSync());
    const anchorOf = bestAnchors(targets, this.assign);
    const plans = levels.map((l, s) => planLevel(l, values[s], [raws[s].shape[1], raws[s].shape[2]], targets, this.assign, anchorOf, IGNORE_THRESHOLD));
    const P = plans.reduce((n, p) => n + p.positives.numPositives, 0);
    const N = plans.reduce((n, p) => n + p.objectnessIndex.length, 0);

    // one gather for all levels: [boxes P·4 | classes P·C | objectness N], levels in order in each part
    const pick = { source: new Uint8Array(P * (4 + C) + N), index: new Int32Array(P * (4 + C) + N) };
    const put = (part: (plan: LevelPlan) => Int32Array, start: number): number => {
      plans.forEach((plan, s) => {
        const idx = part(plan);
        pick.source.fill(s, start, start + idx.length);
        pick.index.set(idx, start);
        start += idx.length;
      });
      return start;
    };
    put((p) => p.objectnessIndex, put((p) => p.classIndex, put((p) => p.boxIndex, 0)));
    const concat = (part: (plan: LevelPlan) => Float32Array) => concatFloat(plans.map(part));

    let boxLoss: Float32Array | undefined;
    let clsLoss: Float32Array | undefined;
    let objLoss: Float32Array = new Float32Array(0);
    let conf: Float32Array = new Float32Array(0);
    let valid: Uint8Array = new Uint8Array(0);
    const loss = tf.tidy(() => {
      const picked = gatherFlat([...raws], values, pick);
      const terms: tf.Scalar[] = [];
      if (P > 0) {
        // decode the positives' boxes in grid units: (σ(tx) + i, σ(ty) + j, e^tw·a_w, e^th·a_h)
        const t = tf.reshape(tf.slice(picked, 0, P * 4), [P, 4]);
        const xy = tf.add(tf.sigmoid(tf.slice(t, [0, 0], [P, 2])), tf.tensor2d(concat((p) => p.cellOffset), [P, 2]));
        const wh = tf.mul(tf.exp(tf.slice(t, [0, 2], [P, 2])), tf.tensor2d(concat((p) => p.anchorSize), [P, 2]));
        const iou = boxIou(tf.concat([xy, wh], 1), tf.tensor2d(concat((p) => p.positives.box), [P, 4]), { type: o.iouType });
        const iouValues = iou.dataSync();
        // a positive whose IoU is NaN drops out of every term (reference §2.7)
        valid = Uint8Array.from(iouValues, (v) => (Number.isNaN(v) ? 0 : 1));
        let oneMinusIou = tf.sub(1, iou);
        if (valid.includes(0)) oneMinusIou = tf.where(tf.tensor1d(valid, 'bool'), oneMinusIou, tf.zerosLike(oneMinusIou));
        terms.push(weightedSum(oneMinusIou, tf.tensor1d(this.positiveWeights(plans, valid, 1, BOX_RATIO))));
        const logits = tf.reshape(tf.slice(picked, P * 4, P * C), [P, C]);
        const cls = binaryCrossEntropy(tf.tensor2d(concat((p) => p.positives.classes), [P, C]), tf.sigmoid(logits), { reduction: 'none' });
        terms.push(weightedSum(cls, tf.tensor2d(this.positiveWeights(plans, valid, C, this.clsRatio), [P, C])));
        if (wantParts) [boxLoss, clsLoss] = [Float32Array.from(iouValues, (v) => 1 - v), cls.dataSync() as Float32Array];
      }
      const confidence = tf.sigmoid(tf.slice(picked, P * (4 + C), N));
      const { targets: objTargets, weights } = this.objectnessTargets(plans, valid);
      const elementwise = o.focalLoss
        ? binaryFocalLoss(objTargets, confidence, { alpha: o.focalAlpha, gamma: o.focalGamma, reduction: 'none' })
        : binaryCrossEntropy(objTargets, confidence, { reduction: 'none' });
      terms.push(weightedSum(elementwise, tf.tensor1d(weights)));
      if (wantParts) [objLoss, conf] = [elementwise.dataSync() as Float32Array, confidence.dataSync() as Float32Array];
      return tf.addN(terms) as tf.Scalar;
    });
    const parts = wantParts ? levelParts(plans, valid, boxLoss, clsLoss, objLoss, conf, C, (plan) => this.objectnessScale(plan.level)) : [];
    return { loss, levels: parts };
  }

  /** Weight of each positive's `width` loss elements: scale / (valid positives of its level · width). */
  private positiveWeights(plans: LevelPlan[], valid: Uint8Array, width: number, scale: number): Float32Array {
    const w = new Float32Array(valid.length * width);
    let p = 0;
    for (const plan of plans) {
      const n = plan.positives.numPositives;
      const kept = valid.subarray(p, p + n).reduce((s, v) => s + v, 0);
      for (let q = p; q < p + n; q++) if (valid[q]) w.fill(scale / (kept * width), q * width, (q + 1) * width);
      p += n;
    }
    return w;
  }

  /** The objectness factor of a level: balance · obj_ratio (× 10 for focal loss). */
  private objectnessScale(level: number): number {
    return LEVEL_BALANCE[level] * this.objRatio * (this.options.focalLoss ? FOCAL_LOSS_RATIO : 1);
  }

  /** Objectness targets (positives 1) and weights: each level's mean over its non-ignored cells. */
  private objectnessTargets(plans: LevelPlan[], valid: Uint8Array): { targets: Float32Array; weights: Float32Array } {
    const n = plans.reduce((s, p) => s + p.objectnessIndex.length, 0);
    const targets = new Float32Array(n);
    const weights = new Float32Array(n);
    let e = 0;
    let p = 0;
    for (const plan of plans) {
      const P = plan.positives.numPositives;
      const kept = valid.subarray(p, p + P);
      const count = plan.numNegatives + kept.reduce((s, v) => s + v, 0);
      const w = this.objectnessScale(plan.level) / count;
      targets.fill(1, e, e + P);
      weights.fill(w, e, e + plan.objectnessIndex.length);
      for (let q = 0; q < P; q++) if (!kept[q]) weights[e + q] = 0;
      e += plan.objectnessIndex.length;
      p += P;
    }
    return { targets, weights };
  }
}

function concatFloat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of parts) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

// Each level's parts from the elementwise losses read back (numbers, no gradient).
function levelParts(
  plans: LevelPlan[], valid: Uint8Array, boxLoss: Float32Array | undefined, clsLoss: Float32Array | undefined,
  objLoss: Float32Array, conf: Float32Array, C: number, objectnessScale: (plan: LevelPlan) => number,
): LevelLossParts[] {
  let p = 0;
  let e = 0;
  return plans.map((plan) => {
    const P = plan.positives.numPositives;
    let kept = 0;
    let box = 0;
    let cls = 0;
    let objPositive = 0;
    for (let q = p; q < p + P; q++) {
      if (!valid[q]) continue;
      kept++;
      box += (boxLoss as Float32Array)[q];
      for (let c = 0; c < C; c++) cls += (clsLoss as Float32Array)[q * C + c];
      objPositive += objLoss[e + q - p];
    }
    let objNegative = 0;
    let easy = 0;
    for (let n = e + P; n < e + plan.objectnessIndex.length; n++) {
      objNegative += objLoss[n];
      if (conf[n] < EASY_NEGATIVE_P) easy += objLoss[n];
    }
    const count = kept + plan.numNegatives;
    const scale = count > 0 ? objectnessScale(plan) / count : 0;
    p += P;
    e += plan.objectnessIndex.length;
    return {
      box: kept > 0 ? (BOX_RATIO * box) / kept : 0,
      objPositive: objPositive * scale,
      objNegative: objNegative * scale,
      cls: kept > 0 ? (C / 80) * (cls / (kept * C)) : 0,
      numPositives: P,
      numIgnored: plan.numIgnored,
      easyNegativeShare: objPositive + objNegative > 0 ? easy / (objPositive + objNegative) : 0,
    };
  });
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


