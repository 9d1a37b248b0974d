/**
 * Seeded random numbers for augmentation: every sample draws from its own stream, derived from
 * (seed, epoch, position), so a run is reproducible from one seed whatever the number of workers,
 * and epochs differ (the reference's quirk 9, fixed).
 */

/** A uniform random source on [0, 1). */
export interface Random {
  /** U(0, 1). */
  next(): number;
}

/** Mixes 32-bit words into a well-spread 32-bit hash (murmur3 finaliser over a running state). */
export function hashSeed(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const word of words) {
    let k = Math.imul(word >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A small, fast PRNG (sfc32 seeded through {@link hashSeed}); the words identify the stream.
 *
 * @example
 * const rng = createRandom(11, 0, 42); // seed 11, epoch 0, sample 42
 * const u = uniform(rng, 0.25, 2);
 */
export function createRandom(...words: number[]): Random {
  let a = hashSeed(1, ...words);
  let b = hashSeed(2, ...words);
  let c = hashSeed(3, ...words);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return { next };
}

/** U(lo, hi), the reference's `rand(a, b)`. */
export function uniform(rng: Random, lo = 0, hi = 1): number {
  return lo + (hi - lo) * rng.next();
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Random, n: number): number {
  return Math.min(n - 1, Math.floor(rng.next() * n));
}

/** Fisher–Yates shuffle in place; returns the array. */
export function shuffleInPlace<T>(rng: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}
