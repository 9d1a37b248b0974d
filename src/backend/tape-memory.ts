/**
 * Frees gradient memory during backprop. tfjs's `engine.gradients` keeps every intermediate
 * gradient (each node's dy and each partial dx summed into a fan-out tensor's gradient) and every
 * tensor saved for a gradient function until the whole backward pass ends, so a training step's
 * peak holds all activation gradients at once; PyTorch frees each as soon as its node is done.
 *
 * This wraps the engine (all backends): each tape node's gradient function is followed, once the
 * next node's gradient starts, by disposing that node's dys, the partial gradients that were summed
 * into them, and the tensors the node saved for its gradient. Tensors that are still a gradient of
 * another tensor, the gradients asked for (`xs`), a caller's `dy`, and everything under a
 * higher-order gradient (`gradientDepth > 0`) are left alone. Kernels whose gradient needs only
 * the shapes of its saved tensors keep the shapes (see SHAPE_ONLY_GRADIENTS).
 * `FOCAL_YOLO_TAPE_FREE=0` turns it off.
 */
import * as tf from '@tensorflow/tfjs-core';

type GradFns = Record<string, () => tf.Tensor>;

/**
 * Kernels whose tfjs gradient reads only the shapes of the tensors it saves (tfjs-core 4.22's
 * Add_grad, Sub_grad, Mean_grad, Sum_grad, Reshape_grad, Slice_grad, Concat_grad): they keep a
 * stand-in with the shape instead of the tensor, so e.g. a convolution's output that batch norm
 * only subtracts from is not held through the forward pass.
 */
const SHAPE_ONLY_GRADIENTS = new Set(['Add', 'Sub', 'Mean', 'Sum', 'Reshape', 'Slice', 'Concat']);

/** What a shape-only gradient reads of a saved tensor. */
function shapeStandIn(t: tf.Tensor): tf.Tensor {
  const standIn = { shape: t.shape.slice(), dtype: t.dtype, rank: t.rank, size: t.size, isDisposed: true, dispose: () => undefined };
  return standIn as unknown as tf.Tensor;
}

/** The parts of tfjs's tape node and engine this relies on (tfjs-core 4.22). */
interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => GradFns;
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  addTapeNode: (...args: unknown[]) => void;
  gradients: (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => unknown;
}

/** The node whose gradient ran last, with its dys. */
interface Done {
  node: TapeNode;
  dys: (tf.Tensor | null)[];
}

/** Bookkeeping of one backward pass. */
interface Backward {
  /** ids of the tensors whose gradients the caller gets. */
  keep: Set<number>;
  userDy: tf.Tensor | undefined;
  /** For each dx returned by a gradient function: the ids of the tensors it is (part of) the gradient of. */
  gradientOf: Map<tf.Tensor, Set<number>>;
  /** For each tensor id: the dxs returned for it (summed by tfjs into its dy). */
  partials: Map<number, tf.Tensor[]>;
  done: Done | null;
}

let current: Backward | null = null;
let installed = false;
let enabled = true;

function release(b: Backward, { node, dys }: Done): void {
  node.outputs.forEach((o, i) => {
    if (b.keep.has(o.id)) return;
    const candidates = new Set<tf.Tensor>(b.partials.get(o.id) ?? []);
    const dy = dys[i];
    if (dy) candidates.add(dy);
    b.partials.delete(o.id);
    for (const t of candidates) {
      const of = b.gradientOf.get(t);
      of?.delete(o.id);
      if ((of === undefined || of.size === 0) && t !== b.userDy) {
        b.gradientOf.delete(t);
        t.dispose();
      }
    }
  });
  for (const s of node.saved ?? []) if (!b.gradientOf.has(s)) s.dispose();
}

function wrapGradient(node: TapeNode): void {
  const inner = node.gradient;
  if (inner === undefined) return;
  node.gradient = (dys) => {
    const grads = inner(dys);
    const b = current;
    if (!enabled || b === null || tf.engine().state.gradientDepth !== 0) return grads;
    // Backprop runs nodes one after another: the previous node's gradients have all been taken.
    if (b.done !== null) release(b, b.done);
    b.done = { node, dys };
    const wrapped: GradFns = {};
    for (const [name, fn] of Object.entries(grads)) {
      wrapped[name] = () => {
        const dx = fn();
        const x = node.inputs[name];
        if (x !== undefined) {
          const of = b.gradientOf.get(dx) ?? new Set<number>();
          of.add(x.id);
          b.gradientOf.set(dx, of);
          const list = b.partials.get(x.id) ?? [];
          list.push(dx);
          b.partials.set(x.id, list);
        }
        return dx;
      };
    }
    return wrapped;
  };
}

/**
 * Installs the freeing on tfjs's engine (once; `initBackend` does it). Idempotent.
 *
 * @example
 * ```ts
 * import { installTapeFreeing } from 'focal-yolo';
 * installTapeFreeing();
 * const { grads } = tf.variableGrads(() => loss()); // peak memory: activations + a few gradients
 * ```
 */
export function installTapeFreeing(): void {
  if (installed) return;
  installed = true;
  enabled = process.env.FOCAL_YOLO_TAPE_FREE !== '0';
  const engine = tf.engine() as unknown as EngineInternals;
  const addTapeNode = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (...args: unknown[]) => {
    addTapeNode(...args);
    const tape = engine.state.activeTape;
    if (tape === null || tape.length === 0) return;
    const node = tape[tape.length - 1];
    wrapGradient(node);
    if (enabled && node.saved !== undefined && SHAPE_ONLY_GRADIENTS.has(node.kernelName)) {
      // the gradient function holds this very array: swap the saved clones for their shapes
      node.saved.forEach((t, i, saved) => {
        saved[i] = shapeStandIn(t);
        t.dispose();
      });
    }
  };
  const gradients = engine.gradients.bind(engine);
  engine.gradients = (f, xs, dy, allowNoGradients) => {
    const outer = current;
    current = { keep: new Set(xs.map((x) => x.id)), userDy: dy, gradientOf: new Map(), partials: new Map(), done: null };
    try {
      return gradients(f, xs, dy, allowNoGradients);
    } finally {
      current = outer;
    }
  };
}

/** Turns the freeing on or off (for comparisons); returns the previous setting. */
export function setTapeFreeing(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}
