/** A small seeded generator shared by weight initialisation, k-means and benchmarks. */

/**
 * mulberry32: 32-bit state, uniform floats in [0, 1), identical on every platform.
 *
 * @example
 * ```ts
 * const uniform = uniformGenerator(11);
 * uniform(); // the same first value on every run
 * ```
 */
export function uniformGenerator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
