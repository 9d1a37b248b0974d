/**
 * `createYolo` and the {@link Yolo} network object: parameters as tfjs variables (trainable ones
 * usable with `tf.variableGrads` / `optimizer.minimize`), raw head outputs, freezing, parameter I/O.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FoldCache, runGraph } from './forward.js';
import type { Graph } from './graph.js';
import { graphParams, sizeOf, type ParamRole, type ParamSpec } from './params.js';
import { fillNormal, fillUniform, uniformGenerator } from './random.js';
import { yolov4TinyGraph } from './yolov4-tiny.js';
import { yolov4Graph } from './yolov4.js';

/** The two networks. */
export type YoloVariant = 'yolov4' | 'yolov4-tiny';

/** Variant names, for validation and help texts. */
export const YOLO_VARIANTS: readonly YoloVariant[] = ['yolov4', 'yolov4-tiny'];

/** Anchors (w, h in input pixels) and the anchor indices of each level (level 0 = stride 32 first), §1.5 / §1.9. */
export const VARIANT_ANCHORS: Record<YoloVariant, { anchors: [number, number][]; anchorsMask: number[][] }> = {
  yolov4: {
    anchors: [[12, 16], [19, 36], [40, 28], [36, 75], [76, 55], [72, 146], [142, 110], [192, 243], [459, 401]],
    anchorsMask: [[6, 7, 8], [3, 4, 5], [0, 1, 2]],
  },
  'yolov4-tiny': {
    anchors: [[10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319]],
    anchorsMask: [[3, 4, 5], [1, 2, 3]],
  },
};

/** Options of {@link createYolo}. */
export interface CreateYoloOptions {
  variant: YoloVariant;
  /** Number of object classes C; each level outputs 3·(5+C) channels. */
  numClasses: number;
  /** [height, width], multiples of 32 (default [416, 416]); the size the model is meant for, stored in checkpoints. */
  inputShape?: [number, number];
  /** YOLOv4-tiny attention: 0 none (default), 1 SE, 2 CBAM, 3 ECA. */
  phi?: number;
  /**
   * RetinaNet's prior π (e.g. 0.01): objectness biases start at −ln((1−π)/π) so that every cell
   * predicts "object" with probability π at the start (focal-loss paper §3.3). Default: the reference's
   * uniform bias init.
   */
  priorObjectnessBias?: number;
  /** Seed of the weight initialisation (default: random). */
  seed?: number;
}

let nextModelId = 0;

function checkOptions(opts: CreateYoloOptions): Required<Omit<CreateYoloOptions, 'priorObjectnessBias' | 'seed'>> {
  if (!YOLO_VARIANTS.includes(opts.variant)) {
    throw new Error(`createYolo: variant '${String(opts.variant)}' is unknown; use 'yolov4' or 'yolov4-tiny'.`);
  }
  if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) {
    throw new Error(`createYolo: numClasses=${opts.numClasses} must be a positive integer (e.g. 20 for VOC).`);
  }
  const inputShape = opts.inputShape ?? [416, 416];
  if (inputShape.length !== 2 || inputShape.some((s) => !Number.isInteger(s) || s < 32 || s % 32 !== 0)) {
    throw new Error(`createYolo: inputShape=[${inputShape.join(', ')}] must be [height, width], multiples of 32 (e.g. [416, 416]).`);
  }
  const phi = opts.phi ?? 0;
  if (!Number.isInteger(phi) || phi < 0 || phi > 3 || (phi !== 0 && opts.variant !== 'yolov4-tiny')) {
    throw new Error(`createYolo: phi=${phi} is not supported for ${opts.variant}; use 0 (yolov4-tiny also takes 1 SE, 2 CBAM, 3 ECA).`);
  }
  const prior = opts.priorObjectnessBias;
  if (prior !== undefined && !(prior > 0 && prior < 1)) {
    throw new Error(`createYolo: priorObjectnessBias=${prior} must be a probability in (0, 1), e.g. 0.01.`);
  }
  return { variant: opts.variant, numClasses: opts.numClasses, inputShape: [inputShape[0], inputShape[1]], phi };
}

function initialValues(p: ParamSpec, uniform: () => number): Float32Array {
  const data = new Float32Array(sizeOf(p.shape));
  if (p.init.kind === 'normal') fillNormal(data, p.init.mean, p.init.std, uniform);
  else if (p.init.kind === 'uniform') fillUniform(data, p.init.bound, uniform);
  else data.fill(p.init.value);
  return data;
}

/**
 * A YOLOv4 or YOLOv4-tiny network. Create it with {@link createYolo}; free it with `dispose()`.
 *
 * @example
 * ```ts
 * const model = createYolo({ variant: 'yolov4-tiny', numClasses: 20 });
 * const [level0, level1] = model.predictRaw(tf.zeros([1, 416, 416, 3]));   // [1,13,13,75], [1,26,26,75]
 * const { grads } = tf.variableGrads(() => tf.sum(model.predictRaw(x, true)[0]) as tf.Scalar, model.trainableVariables());
 * ```
 */
export class Yolo {
  readonly variant: YoloVariant;
  readonly numClasses: number;
  readonly inputShape: [number, number];
  readonly phi: number;
  /** The network as data (node list in reference order). */
  readonly graph: Graph;
  /** Every parameter in PyTorch state-dict order. */
  readonly params: readonly ParamSpec[];
  /** BatchNorm `num_batches_tracked`: training-mode forward passes so far. */
  batchesTracked = 0;
  private readonly variables = new Map<string, tf.Variable>();
  private readonly byLayerRole = new Map<string, tf.Variable>();
  private frozen = false;
  /** Inference's BatchNorm folds, recomputed when their variables change. */
  private readonly folds = new FoldCache();

  /** @internal use {@link createYolo}. */
  constructor(opts: CreateYoloOptions) {
    const o = checkOptions(opts);
    this.variant = o.variant;
    this.numClasses = o.numClasses;
    this.inputShape = o.inputShape;
    this.phi = o.phi;
    this.graph = o.variant === 'yolov4' ? yolov4Graph(o.numClasses) : yolov4TinyGraph(o.numClasses, o.phi);
    this.params = graphParams(this.graph);
    const uniform = uniformGenerator(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    const prefix = `yolo${nextModelId++}/`;
    for (const p of this.params) {
      const data = initialValues(p, uniform);
      if (opts.priorObjectnessBias !== undefined && p.role === 'bias') {
        const pi = opts.priorObjectnessBias;
        for (let a = 0; a < 3; a++) data[a * (5 + o.numClasses) + 4] = -Math.log((1 - pi) / pi);
      }
      const v = tf.tidy(() => tf.variable(tf.tensor(data, p.shape, 'float32'), p.trainable, prefix + p.key));
      this.variables.set(p.key, v);
      this.byLayerRole.set(`${p.layer}|${p.role}`, v);
    }
  }

  /**
   * The raw head outputs for NHWC `images` (float32, RGB in 0..1, height and width multiples of 32):
   * level 0 (stride 32) first, each [B, H/s, W/s, 3·(5+C)] with channel = anchor·(5+C) + attribute.
   * `training` uses batch statistics in BatchNorm and updates the running statistics (momentum 0.1).
   */
  predictRaw(images: tf.Tensor4D, training = false): tf.Tensor4D[] {
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new Error(`predictRaw: images have shape [${images.shape.join(', ')}]; expected NHWC [batch, height, width, 3].`);
    }
    const [, h, w] = images.shape;
    if (h % 32 !== 0 || w % 32 !== 0 || h === 0 || w === 0) {
      throw new Error(`predictRaw: image size ${h}×${w} is not a multiple of 32; letterbox or resize to e.g. ${this.inputShape.join('×')}.`);
    }
    if (training && images.shape[0] * (h / 32) * (w / 32) < 2) {
      throw new Error('predictRaw: training-mode BatchNorm needs more than one value per channel; use a batch of 2 or larger images.');
    }
    if (training) this.batchesTracked++;
    return tf.tidy(() => runGraph(this.graph, tf.cast(images, 'float32'), this.param, training, this.folds));
  }

  private readonly param = (layer: string, role: ParamRole): tf.Variable => {
    const v = this.byLayerRole.get(`${layer}|${role}`);
    if (v === undefined) throw new Error(`Yolo: no parameter ${layer} (${role})`);
    return v;
  };

  /** The variable of a state-dict key, e.g. `backbone.conv1.conv.weight` (tfjs layout). */
  variable(key: string): tf.Variable {
    const v = this.variables.get(key);
    if (v === undefined) throw new Error(`Yolo: no parameter '${key}' in ${this.variant}; see model.params for the keys.`);
    return v;
  }

  /** The variables an optimizer should update now (trainable, not frozen). */
  trainableVariables(): tf.Variable[] {
    return this.params.filter((p) => p.trainable && this.variable(p.key).trainable).map((p) => this.variable(p.key));
  }

  /** Stops gradient updates of the backbone (its BatchNorm running statistics still update in training, as in the reference). */
  freezeBackbone(): void {
    this.setBackboneTrainable(false);
  }

  /** Makes the backbone trainable again. */
  unfreezeBackbone(): void {
    this.setBackboneTrainable(true);
  }

  /** Whether the backbone is frozen. */
  get backboneFrozen(): boolean {
    return this.frozen;
  }

  private setBackboneTrainable(trainable: boolean): void {
    for (const p of this.params) {
      if (p.trainable && p.key.startsWith(this.graph.backbonePrefix)) this.variable(p.key).trainable = trainable;
    }
    this.frozen = !trainable;
  }

  /** Trainable parameter count (64,040,001 for YOLOv4 with 20 classes), or BatchNorm buffers with `{ buffers: true }`. */
  countParameters({ buffers = false }: { buffers?: boolean } = {}): number {
    return this.params.filter((p) => p.trainable !== buffers).reduce((s, p) => s + sizeOf(p.shape), 0);
  }

  /** The values of a parameter (tfjs layout). */
  readParam(key: string): Float32Array {
    return this.variable(key).dataSync() as Float32Array;
  }

  /** Overwrites a parameter with `data` (tfjs layout, exactly its size). */
  writeParam(key: string, data: Float32Array): void {
    const v = this.variable(key);
    if (data.length !== v.size) {
      throw new Error(`Yolo.writeParam: '${key}' takes ${v.size} values [${v.shape.join(', ')}], got ${data.length}.`);
    }
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32')));
  }

  /** Frees every variable. */
  dispose(): void {
    this.folds.dispose();
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
    this.byLayerRole.clear();
  }
}

/**
 * Builds YOLOv4 or YOLOv4-tiny with the reference's initialisation (§1.6: conv weights N(0, 0.02),
 * BatchNorm γ ~ N(1, 0.02), β = 0, head biases U(±1/√fan_in)).
 *
 * @example
 * ```ts
 * const model = createYolo({ variant: 'yolov4', numClasses: 20, inputShape: [416, 416], priorObjectnessBias: 0.01 });
 * model.countParameters(); // 64040001
 * ```
 */
export function createYolo(opts: CreateYoloOptions): Yolo {
  return new Yolo(opts);
}
