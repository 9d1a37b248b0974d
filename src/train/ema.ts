/**
 * Model EMA (as in YOLOX and Ultralytics): an exponential moving average of every weight and
 * BatchNorm statistic, with a decay that ramps up over the first updates,
 * decay(n) = d · (1 − exp(−n / 2000)), used for evaluation and saving.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * @example
 * ```ts
 * const ema = new ModelEMA(model.allVariables(), { decay: 0.9999 });
 * // after each optimizer step:
 * ema.update();
 * // evaluate or save with the averaged weights, then put the trained ones back:
 * ema.swap(); await evaluate(model); ema.swap();
 * ```
 */
let instances = 0;

export class ModelEMA {
  /** Updates done so far. */
  updates: number;
  private readonly shadow: tf.Variable[];

  constructor(
    private readonly variables: tf.Variable[],
    private readonly opts: { decay?: number; tau?: number; updates?: number } = {},
  ) {
    this.updates = opts.updates ?? 0;
    const id = instances++;
    // tidy frees the clones; the variables keep their data
    this.shadow = tf.tidy(() => variables.map((v) => tf.variable(tf.clone(v), false, `ema${id}/${v.name}`)));
  }

  /** The decay of the next update. */
  currentDecay(): number {
    const d = this.opts.decay ?? 0.9999;
    const tau = this.opts.tau ?? 2000;
    return d * (1 - Math.exp(-(this.updates + 1) / tau));
  }

  /** Moves the average toward the current weights. */
  update(): void {
    const decay = this.currentDecay();
    this.updates++;
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const s = this.shadow[i];
        s.assign(tf.add(tf.mul(s, decay), tf.mul(v, 1 - decay)));
      });
    });
  }

  /** Exchanges the model's weights and the averages (call twice to restore). */
  swap(): void {
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const s = this.shadow[i];
        const current = tf.clone(v);
        v.assign(s);
        s.assign(current);
      });
    });
  }

  /** The averaged values by variable name (copies), for a checkpoint. */
  state(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    this.variables.forEach((v, i) => (out[v.name] = tf.clone(this.shadow[i])));
    return out;
  }

  /** Restores averages saved by {@link state}. */
  load(values: tf.NamedTensorMap, updates: number): void {
    this.variables.forEach((v, i) => {
      const saved = values[v.name];
      if (saved === undefined) throw new Error(`ModelEMA.load: no saved average for '${v.name}'; the checkpoint belongs to another model`);
      this.shadow[i].assign(saved);
    });
    this.updates = updates;
  }

  dispose(): void {
    tf.dispose(this.shadow);
  }
}
