/** A small seeded generator for reproducible weight initialisation, identical on every backend. */

export { uniformGenerator } from '../util/random.js';

/** Fills `out` with N(mean, std²) samples (Box–Muller). */
export function fillNormal(out: Float32Array, mean: number, std: number, uniform: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniform(); // (0, 1]: log is finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = mean + r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(2 * Math.PI * u2);
  }
}

/** Fills `out` with U(−bound, bound) samples. */
export function fillUniform(out: Float32Array, bound: number, uniform: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] = (2 * uniform() - 1) * bound;
}
