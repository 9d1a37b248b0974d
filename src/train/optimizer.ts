/**
 * SGD (momentum, Nesterov), Adam and AdamW with PyTorch's exact update rules and parameter groups
 * with their own weight decay (reference-spec §4.3), and a state that can be saved and restored
 * for resuming.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerType } from './schedule.js';

/** Variables sharing one weight decay. */
export interface ParamGroup {
  params: tf.Variable[];
  weightDecay: number;
}

/** Hyper-parameters of {@link ReferenceOptimizer}. */
export interface OptimizerConfig {
  type: OptimizerType;
  /** SGD momentum, or Adam's β₁ (the reference uses 0.937 for both). */
  momentum?: number;
  /** Nesterov momentum for SGD (the reference: true). */
  nesterov?: boolean;
  /** Adam's β₂. */
  beta2?: number;
  /** Adam's ε. */
  epsilon?: number;
}

/** What {@link ReferenceOptimizer.getState} returns: slot tensors by `<variable>/<slot>` and step counts. */
export interface OptimizerState {
  type: OptimizerType;
  steps: Record<string, number>;
  slots: tf.NamedTensorMap;
}

/**
 * An optimizer whose updates equal `torch.optim.SGD(nesterov)`, `Adam` and `AdamW` step for step.
 * Weight decay is per group: L2 added to the gradient for SGD and Adam, decoupled for AdamW.
 * Variables without a gradient in a step (frozen) are left untouched, as in PyTorch.
 *
 * @example
 * ```ts
 * const opt = new ReferenceOptimizer(
 *   [{ params: convWeights, weightDecay: 5e-4 }, { params: [...bnWeights, ...biases], weightDecay: 0 }],
 *   { type: 'sgd', momentum: 0.937, nesterov: true });
 * opt.lr = 1e-3;
 * const { grads } = tf.variableGrads(() => loss());
 * opt.step(grads);
 * ```
 */
export class ReferenceOptimizer {
  /** Learning rate of the next step (the schedule sets it). */
  lr = 1e-3;
  readonly config: Required<OptimizerConfig>;
  private readonly groups: ParamGroup[];
  private readonly slots = new Map<string, tf.Variable>();
  private readonly steps = new Map<string, number>();

  constructor(groups: ParamGroup[], config: OptimizerConfig) {
    if (!['sgd', 'adam', 'adamw'].includes(config.type)) {
      throw new Error(`ReferenceOptimizer: type '${String(config.type)}' must be 'sgd', 'adam' or 'adamw'`);
    }
    const seen = new Set<string>();
    for (const g of groups) {
      if (!(g.weightDecay >= 0)) throw new Error(`ReferenceOptimizer: weightDecay ${g.weightDecay} must be ≥ 0`);
      for (const p of g.params) {
        if (seen.has(p.name)) throw new Error(`ReferenceOptimizer: variable '${p.name}' is in two parameter groups`);
        seen.add(p.name);
      }
    }
    this.groups = groups;
    this.config = {
      type: config.type,
      momentum: config.momentum ?? 0.937,
      nesterov: config.nesterov ?? config.type === 'sgd',
      beta2: config.beta2 ?? 0.999,
      epsilon: config.epsilon ?? 1e-8,
    };
  }

  private slot(p: tf.Variable, name: string): tf.Variable | undefined {
    return this.slots.get(`${p.name}/${name}`);
  }

  private setSlot(p: tf.Variable, name: string, value: tf.Tensor): void {
    const key = `${p.name}/${name}`;
    const existing = this.slots.get(key);
    if (existing) existing.assign(value);
    else this.slots.set(key, tf.variable(value, false, `opt/${key}`));
  }

  /** Applies one update with the current `lr`; `grads` are keyed by variable name. */
  step(grads: tf.NamedTensorMap): void {
    const { type, momentum, nesterov, beta2, epsilon } = this.config;
    const lr = this.lr;
    for (const group of this.groups) {
      const wd = group.weightDecay;
      for (const p of group.params) {
        const grad = grads[p.name];
        if (grad === undefined) continue;
        const t = (this.steps.get(p.name) ?? 0) + 1;
        this.steps.set(p.name, t);
        tf.tidy(() => {
          let g: tf.Tensor = grad;
          if (type === 'adamw') {
            if (wd !== 0) p.assign(tf.mul(p, 1 - lr * wd));
          } else if (wd !== 0) {
            g = tf.add(g, tf.mul(p, wd));
          }
          if (type === 'sgd') {
            const prev = this.slot(p, 'momentum');
            const buf = prev === undefined ? g : tf.add(tf.mul(prev, momentum), g);
            this.setSlot(p, 'momentum', buf);
            const direction = nesterov ? tf.add(g, tf.mul(buf, momentum)) : buf;
            p.assign(tf.sub(p, tf.mul(direction, lr)));
            return;
          }
          const m0 = this.slot(p, 'm');
          const v0 = this.slot(p, 'v');
          const m = tf.add(tf.mul(m0 ?? tf.zerosLike(g), momentum), tf.mul(g, 1 - momentum));
          const v = tf.add(tf.mul(v0 ?? tf.zerosLike(g), beta2), tf.mul(tf.square(g), 1 - beta2));
          this.setSlot(p, 'm', m);
          this.setSlot(p, 'v', v);
          const bias1 = 1 - momentum ** t;
          const bias2 = 1 - beta2 ** t;
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bias2)), epsilon);
          p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / bias1)));
        });
      }
    }
  }

  /** Copies of the slots and the step counts, for a checkpoint. */
  getState(): OptimizerState {
    const slots: tf.NamedTensorMap = {};
    for (const [key, v] of this.slots) slots[key] = tf.clone(v);
    return { type: this.config.type, steps: Object.fromEntries(this.steps), slots };
  }

  /** Restores a state from {@link getState} (for `--resume`); checks that it fits these variables. */
  setState(state: OptimizerState): void {
    if (state.type !== this.config.type) {
      throw new Error(`ReferenceOptimizer.setState: the saved state is for '${state.type}', this optimizer is '${this.config.type}'`);
    }
    const names = new Set(this.groups.flatMap((g) => g.params.map((p) => p.name)));
    for (const key of Object.keys(state.slots)) {
      const name = key.slice(0, key.lastIndexOf('/'));
      if (!names.has(name)) throw new Error(`ReferenceOptimizer.setState: saved slot '${key}' belongs to no variable of this model`);
    }
    this.dispose();
    tf.tidy(() => {
      for (const [key, value] of Object.entries(state.slots)) this.slots.set(key, tf.variable(tf.clone(value), false, `opt/${key}`));
    });
    for (const [name, n] of Object.entries(state.steps)) this.steps.set(name, n);
  }

  /** Frees the slot variables. */
  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
    this.steps.clear();
  }
}
