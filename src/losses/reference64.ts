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

/** Softmax focal loss of one row: −Σ_c a_c·y_c·(1 − p_c)^γ·log p_c (a = per-class α, or 1). */
export function softmaxFocal64(x: number[], y: number[], gamma: number, a?: number[]): number {
  const max = Math.max(...x);
  const lse = max + Math.log(x.reduce((s, v) => s + Math.exp(v - max), 0));
  let loss = 0;
  for (let c = 0; c < x.length; c++) {
    const l = x[c] - lse;
    loss -= (a ? a[c] : 1) * y[c] * Math.pow(-Math.expm1(l), gamma) * l;
  }
  return loss;
}

/** Its gradient dL/dx_j = p_j·Σ_c w_c − w_j, w_c = a_c·y_c·u_c^γ·(1 − γ·p_c·l_c/u_c). */
export function softmaxFocalGrad64(x: number[], y: number[], gamma: number, a?: number[]): number[] {
  const max = Math.max(...x);
  const lse = max + Math.log(x.reduce((s, v) => s + Math.exp(v - max), 0));
  const p = x.map((v) => Math.exp(v - lse));
  const w = x.map((v, c) => {
    const l = v - lse;
    const u = -Math.expm1(l);
    const ratio = u > 0 ? l / u : -1;
    return (a ? a[c] : 1) * y[c] * Math.pow(u, gamma) * (1 - gamma * p[c] * ratio);
  });
  const total = w.reduce((s, v) => s + v, 0);
  return p.map((pj, j) => pj * total - w[j]);
}

/** Quality focal loss CE(x, y)·|y − σ(x)|^β and its analytic gradient (GFL). */
export function qfl64(x: number, y: number, beta: number): { loss: number; grad: number } {
  const p = sigmoid64(x);
  const d = y * sigmoid64(-x) - (1 - y) * p; // y − p
  const ce = ce64(x, y);
  const ad = Math.abs(d);
  const grad = Math.pow(ad, beta) * -d + (ad === 0 ? 0 : ce * beta * Math.pow(ad, beta - 1) * -Math.sign(d) * p * sigmoid64(-x));
  return { loss: ce * Math.pow(ad, beta), grad };
}

/** Varifocal loss: y·CE(x, y) if y > 0 (1·CE without IoU weighting), else α·σ(x)^γ·CE(x, 0). */
export function vfl64(x: number, y: number, alpha: number, gamma: number, iouWeighted = true): number {
  return y > 0 ? (iouWeighted ? y : 1) * ce64(x, y) : alpha * Math.pow(sigmoid64(x), gamma) * ce64(x, 0);
}

/** Poly-1 focal: FL + ε·(1 − p_t)^(γ+1). */
export function polyFocal64(x: number, y: number, alpha: number | null, gamma: number, epsilon: number): number {
  const m = y * sigmoid64(-x) + (1 - y) * sigmoid64(x);
  return focal64(x, y, alpha, gamma) + epsilon * Math.pow(m, gamma + 1);
}

/** Asymmetric loss: y·(1 − p)^γ+·(−log p) + (1 − y)·p_m^γ−·(−log(1 − p_m)), p_m = max(p − m, 0). */
export function asl64(x: number, y: number, gammaPositive: number, gammaNegative: number, clip: number): number {
  const positive = Math.pow(sigmoid64(-x), gammaPositive) * softplus64(-x);
  const oneMinusPm = Math.min(sigmoid64(-x) + clip, 1);
  const pm = Math.max(sigmoid64(x) - clip, 0);
  const negative = (pm > 0 ? Math.pow(pm, gammaNegative) : gammaNegative === 0 ? 1 : 0) * (clip === 0 ? softplus64(x) : -Math.log(oneMinusPm));
  return y * positive + (1 - y) * negative;
}
