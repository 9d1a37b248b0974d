/** The RetinaNet prior-probability initialisation of a classification layer's bias. */

/**
 * The bias b = −log((1 − π)/π) that makes σ(b) = π, so every anchor starts predicting "object" with
 * probability π (RetinaNet §3.3: π = 0.01, b ≈ −4.595). Without it, the early loss is dominated by
 * the easy negatives and plain BCE can diverge.
 *
 * @param pi prior probability in (0, 1); default 0.01.
 * @returns the bias value for the final classification (or objectness) convolution.
 *
 * @example
 * ```ts
 * import { priorBias } from 'focal-yolo';
 * priorBias();        // −4.59512
 * priorBias(8 / (3 * 20 * 20)); // YOLOv5 style: about 8 objects among 3·20·20 cells of a level
 * ```
 */
export function priorBias(pi = 0.01): number {
  if (typeof pi !== 'number' || !(pi > 0 && pi < 1)) {
    throw new Error(`priorBias: pi = ${String(pi)} is invalid; use a probability strictly between 0 and 1 (e.g. 0.01).`);
  }
  return -Math.log((1 - pi) / pi);
}
