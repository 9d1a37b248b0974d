/**
 * The YOLOv4 loss of the reference (reference-spec §2): per level, CIoU/SIoU/… box loss and BCE class
 * loss on the positives, and BCE or focal objectness loss on every cell that is not ignored.
 *
 * The whole loss is one differentiable op over the raw heads (YoloLoss.compute): the heads are read
 * back once, and assignment, ignore mask (assign.ts, plan.ts), the objectness and class terms and
 * their gradients run as float64 loops over the elements the loss reads; only the box IoU of the
 * few positives goes through tensor ops (`boxIou` and its autodiff gradient on a [P, 4] tensor).
 */
import * as tf from '@tensorflow/tfjs-core';
import { boxIou, PROBABILITY_EPSILON, type IouType } from '../losses/index.js';
import { bestAnchors, type AssignOptions } from './assign.js';
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

  /**
   * The summed loss of `levels` (raws[s] is level levels[s]) and each level's parts, as one
   * differentiable op over the raw heads. Everything except the box IoU is float64 JavaScript over
   * the heads read back once: the ignore mask, the objectness and class terms with their gradients
   * (only the elements the loss reads are visited) and the chain rule of the box decode. The IoU
   * family and its gradient come from `boxIou` on a [P, 4] tensor of the positives' decoded boxes.
   */
  private compute(levels: number[], raws: readonly tf.Tensor4D[], targets: readonly Float32Array[], wantParts: boolean): { loss: tf.Scalar; levels: LevelLossParts[] } {
    const o = this.options;
    const C = o.numClasses;
    // on wasm the heads are read (and the gradient written) in place in the heap; such views
    // detach whenever the heap grows, so they are taken again after any tensor op
    const onWasm = tf.getBackend() === 'wasm';
    let values = raws.map((raw) => heapView(raw, onWasm) ?? raw.dataSync());
    const anchorOf = bestAnchors(targets, this.assign);
    const plans = levels.map((l, s) => planLevel(l, values[s], [raws[s].shape[1], raws[s].shape[2]], targets, this.assign, anchorOf, IGNORE_THRESHOLD));
    const box = this.boxTerms(plans, values);
    // the gradient is built only while a tape records (tf.grad, valueAndGrads, an optimizer's minimize)
    const withGrad = tf.engine().state.gradientDepth > 0;
    const focal = o.focalLoss ? { alpha: o.focalAlpha, gamma: o.focalGamma } : undefined;
    const D = 5 + C;
    const parts: LevelLossParts[] = [];
    let total = 0;
    // one pass over the elements the loss reads: the parts, and the gradient into `grads`
    const pass = (grads: Float32Array[] | undefined): void => {
      let start = 0; // first positive of the level in `box`
      plans.forEach((plan, s) => {
        const raw = values[s];
        const grad = grads?.[s];
        const { numPositives: P, cell, classes } = plan.positives;
        let kept = 0;
        for (let q = start; q < start + P; q++) kept += box.valid[q];
        // box: BOX_RATIO · mean(1 − IoU) over the valid positives
        let boxSum = 0;
        let clsSum = 0;
        let objPositive = 0;
        let objNegative = 0;
        let easy = 0;
        const count = kept + plan.numNegatives;
        const objScale = count > 0 ? this.objectnessScale(plan.level) / count : 0;
        const boxWeight = kept > 0 ? BOX_RATIO / kept : 0;
        const clsWeight = kept > 0 ? this.clsRatio / (kept * C) : 0;
        for (let p = 0; p < P; p++) {
          const q = start + p;
          if (!box.valid[q]) continue;
          const base = cell[p] * D;
          boxSum += 1 - box.iou[q];
          if (grad) for (let a = 0; a < 4; a++) grad[base + a] = -boxWeight * box.dIou[4 * q + a];
          for (let c = 0; c < C; c++) {
            clsSum += probabilityLoss(sigmoid32(raw[base + 5 + c]), classes[p * C + c], undefined);
            if (grad) grad[base + 5 + c] = clsWeight * term.dLogit;
          }
          objPositive += probabilityLoss(sigmoid32(raw[base + 4]), 1, focal);
          if (grad) grad[base + 4] = objScale * term.dLogit;
        }
        const index = plan.objectnessIndex;
        for (let n = P; n < index.length; n++) {
          const conf = sigmoid32(raw[index[n]]);
          const l = probabilityLoss(conf, 0, focal);
          objNegative += l;
          if (conf < EASY_NEGATIVE_P) easy += l;
          if (grad) grad[index[n]] = objScale * term.dLogit;
        }
        const level: LevelLossParts = {
          box: boxWeight * boxSum,
          objPositive: objPositive * objScale,
          objNegative: objNegative * objScale,
          cls: clsWeight * clsSum,
          numPositives: P,
          numIgnored: plan.numIgnored,
          easyNegativeShare: objPositive + objNegative > 0 ? easy / (objPositive + objNegative) : 0,
        };
        total += level.box + level.cls + level.objPositive + level.objNegative;
        parts.push(level);
        start += P;
      });
    };
    const op = tf.customGrad((...inputs) => {
      const save = inputs[raws.length] as tf.GradSaveFunc;
      let grads: tf.Tensor[] = [];
      if (onWasm && withGrad) grads = raws.map((raw) => tf.fill(raw.shape, 0, 'float32'));
      if (onWasm) values = raws.map((raw) => heapView(raw, true) ?? raw.dataSync());
      if (!withGrad) {
        pass(undefined);
      } else if (onWasm) {
        pass(grads.map((g) => heapView(g, true) as Float32Array));
      } else {
        const arrays = raws.map((raw) => new Float32Array(raw.size));
        pass(arrays);
        grads = arrays.map((g, s) => tf.tensor(g, raws[s].shape, 'float32'));
      }
      save(grads);
      return {
        value: tf.scalar(total),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          if (!withGrad) throw new Error('YoloLoss: a gradient was asked of a loss computed while no gradient tape was recording; call total() or level() inside tf.grad / tf.valueAndGrads.');
          // the common dy = 1 shares the saved gradient's data instead of a pass over it
          const unit = dy.dataSync()[0] === 1;
          return saved.map((g) => (unit ? tf.reshape(g, g.shape) : tf.mul(dy, g)));
        },
      };
    });
    const loss = op(...raws) as tf.Scalar;
    return { loss, levels: wantParts ? parts : [] };
  }

  /**
   * IoU of each positive's decoded box (σ(tx) + i, σ(ty) + j, e^tw·a_w, e^th·a_h) with its target,
   * whether it is valid (a NaN IoU drops the positive from every term, reference §2.7), and
   * dIoU/d(tx, ty, tw, th), positives of all levels in order.
   */
  private boxTerms(plans: LevelPlan[], values: ArrayLike<number>[]): { iou: Float32Array; valid: Uint8Array; dIou: Float64Array } {
    const P = plans.reduce((n, p) => n + p.positives.numPositives, 0);
    const D = 5 + this.options.numClasses;
    const pred = new Float32Array(P * 4);
    const target = new Float32Array(P * 4);
    const dDecode = new Float64Array(P * 4); // d(decoded box)/d(raw) per coordinate
    let q = 0;
    plans.forEach((plan, s) => {
      const { numPositives, cell, box } = plan.positives;
      for (let p = 0; p < numPositives; p++, q++) {
        const base = cell[p] * D;
        for (let a = 0; a < 2; a++) {
          const sig = sigmoid32(values[s][base + a]);
          pred[4 * q + a] = sig + plan.cellOffset[2 * p + a];
          dDecode[4 * q + a] = sig * (1 - sig);
          pred[4 * q + 2 + a] = Math.exp(values[s][base + 2 + a]) * plan.anchorSize[2 * p + a];
          dDecode[4 * q + 2 + a] = pred[4 * q + 2 + a];
        }
        target.set(box.subarray(4 * p, 4 * p + 4), 4 * q);
      }
    });
    if (P === 0) return { iou: new Float32Array(0), valid: new Uint8Array(0), dIou: dDecode };
    const type = this.options.iouType;
    const [iou, dPred] = tf.tidy(() => {
      const t = tf.tensor2d(target, [P, 4]);
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => boxIou(x, t, { type }))(tf.tensor2d(pred, [P, 4]), tf.ones([P]));
      return [value.dataSync() as Float32Array, grad.dataSync()];
    });
    const valid = Uint8Array.from(iou, (v) => (Number.isNaN(v) ? 0 : 1));
    for (let e = 0; e < dDecode.length; e++) dDecode[e] *= dPred[e];
    return { iou, valid, dIou: dDecode };
  }

  /** The objectness factor of a level: balance · obj_ratio (× 10 for focal loss). */
  private objectnessScale(level: number): number {
    return LEVEL_BALANCE[level] * this.objRatio * (this.options.focalLoss ? FOCAL_LOSS_RATIO : 1);
  }
}

/** A float32 view of a tensor's storage in the wasm heap (no copy), when `onWasm`. */
function heapView(t: tf.Tensor, onWasm: boolean): Float32Array | undefined {
  if (!onWasm || t.dtype !== 'float32') return undefined;
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array };
  try {
    return backend.typedArrayFromHeap?.(t);
  } catch {
    return undefined; // data not (yet) in this backend's heap: the caller reads it with dataSync()
  }
}

const P_MIN = Math.fround(PROBABILITY_EPSILON);
const P_MAX = Math.fround(1 - PROBABILITY_EPSILON);

/** σ(x) rounded to float32, the probability the reference's float32 sigmoid gives (e^−x may overflow to ∞: σ = 0). */
function sigmoid32(x: number): number {
  return Math.fround(1 / (1 + Math.exp(-x)));
}

/** The derivative of the last {@link probabilityLoss} with respect to the logit. */
const term = { dLogit: 0 };

/**
 * The reference's clipped BCE on a probability, −y·ln p̂ − (1 − y)·ln(1 − p̂) with
 * p̂ = clip(p, 1e-7, 1 − 1e-7) (zero gradient where clipped), or with `focal` its focal form
 * BCE·α_t·m^γ, m = y·(1 − p) + (1 − y)·p on the unclipped p: the float64 form of
 * `binaryCrossEntropy` / `binaryFocalLoss` for one element. Returns the loss and leaves
 * dloss/dx (x the logit, p = σ(x)) in `term.dLogit`.
 */
function probabilityLoss(p: number, y: number, focal: { alpha: number; gamma: number } | undefined): number {
  const pc = p < P_MIN ? P_MIN : p > P_MAX ? P_MAX : p;
  // a zero coefficient skips its log (both logs are finite: p̂ is clipped)
  const bce = -((y > 0 ? y * Math.log(pc) : 0) + (y < 1 ? (1 - y) * Math.log(1 - pc) : 0));
  let dp = p >= P_MIN && p <= P_MAX ? (1 - y) / (1 - pc) - y / pc : 0;
  let loss = bce;
  if (focal !== undefined) {
    const { alpha, gamma } = focal;
    const at = 1 - alpha + (2 * alpha - 1) * y;
    const m = y * (1 - p) + (1 - y) * p;
    const mod = gamma === 0 ? 1 : gamma === 2 ? m * m : Math.pow(m, gamma);
    const dMod = gamma === 0 ? 0 : gamma === 1 ? 1 : m > 0 ? gamma * Math.pow(m, gamma - 1) : 0;
    loss = at * bce * mod;
    dp = at * (dp * mod + bce * dMod * (1 - 2 * y));
  }
  term.dLogit = dp * p * (1 - p);
  return loss;
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


