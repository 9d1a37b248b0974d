/**
 * Float64 reference math for the loss tests and benchmark (plain JavaScript numbers, independent of tfjs):
 * stable log-sigmoid forms, the sigmoid focal loss and its analytic gradient, and central
 * finite differences.
 */

/** softplus(z) = log(1 + e^z) without overflow. */
export function softplus64(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

/** σ(z) without overflow. */
export function sigmoid64(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** CE(x, y) = y·softplus(−x) + (1 − y)·softplus(x): exact for hard labels at any x. */
export function ce64(x: number, y: number): number {
  return y * softplus64(-x) + (1 - y) * softplus64(x);
}

/** α_t, or 1 when α is null. */
export function alphaT64(alpha: number | null, y: number): number {
  return alpha === null ? 1 : alpha * y + (1 - alpha) * (1 - y);
}

/** The torchvision-form focal loss α_t·m^γ·CE with m = y·σ(−x) + (1 − y)·σ(x). */
export function focal64(x: number, y: number, alpha: number | null, gamma: number): number {
  const m = y * sigmoid64(-x) + (1 - y) * sigmoid64(x);
  return alphaT64(alpha, y) * Math.pow(m, gamma) * ce64(x, y);
}

/**
 * Its analytic derivative in x, and the sum of the absolute values of its terms (the scale against
 * which float32 rounding is measured).
 */
export function focalGrad64(x: number, y: number, alpha: number | null, gamma: number): { grad: number; scale: number } {
  const p = sigmoid64(x);
  const q = sigmoid64(-x);
  const m = y * q + (1 - y) * p;
  const ce = ce64(x, y);
  const r = m === 0 ? 0 : (p * q) / m;
  const a = p * (1 - y) - y * q;
  const b = gamma * ce * (1 - 2 * y) * r;
  const f = alphaT64(alpha, y) * Math.pow(m, gamma);
  return { grad: f * (a + b), scale: f * (Math.abs(p * (1 - y)) + Math.abs(y * q) + Math.abs(b)) };
}

/** Central difference (f(x + h) − f(x − h)) / 2h. */
export function centralDifference(f: (x: number) => number, x: number, h: number): number {
  return (f(x + h) - f(x - h)) / (2 * h);
}

/** Evenly spaced values from `lo` to `hi` inclusive. */
export function linspace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}
