/**
 * Anchor boxes by k-means on box shapes with distance 1 − IoU (reference-spec §7), seeded and with
 * empty clusters re-initialised (quirk 21 fixed: the reference re-seeds from entropy and lets an
 * empty cluster become NaN).
 */
import { shapeIou } from '../boxes/iou.js';
import { uniformGenerator } from '../util/random.js';

/** Options of {@link kmeansAnchors}. */
export interface KmeansOptions {
  /** number of anchors (9 for YOLOv4, 6 for YOLOv4-tiny) */
  k: number;
  /** seed of the initial choice of k boxes (default 0) */
  seed?: number;
  /** stop after this many iterations even if assignments still change (default 1000) */
  maxIterations?: number;
  /** start from these cluster shapes `[w, h]` instead of k random boxes (for tests and warm starts) */
  initialCenters?: [number, number][];
}

/** What {@link kmeansAnchors} returns. */
export interface KmeansResult {
  /** cluster shapes `[w, h]` in the units of the input, sorted by area ascending */
  anchors: [number, number][];
  /** mean over boxes of the best IoU with any anchor (the reference's `avg_ratio`) */
  meanIou: number;
  /** iterations run */
  iterations: number;
  /** empty clusters re-initialised along the way */
  reinitialised: number;
}

/** numpy's median: the middle value, or the mean of the two middle values. */
function median(values: number[]): number {
  const s = values.sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Clusters box shapes into k anchors. Each iteration assigns every box to the cluster of highest
 * IoU (first on ties), stops when no assignment changed, and moves each cluster to the per-dimension
 * median of its boxes. A cluster left empty restarts at the box worst served by the other clusters.
 *
 * @param shapes box shapes `[w, h]` (any unit: pixels or fractions of the image); non-positive ones are an error
 * @example
 * const { anchors, meanIou } = kmeansAnchors(boxes.map(([x1, y1, x2, y2]) => [(x2 - x1) / W, (y2 - y1) / H]), { k: 9, seed: 0 });
 */
export function kmeansAnchors(shapes: readonly (readonly number[])[], opts: KmeansOptions): KmeansResult {
  const { k } = opts;
  const n = shapes.length;
  if (!Number.isInteger(k) || k < 1) throw new Error(`kmeansAnchors: k = ${k} must be a positive integer (e.g. 9)`);
  if (n < k) throw new Error(`kmeansAnchors: ${n} boxes cannot make ${k} anchors; use a smaller --k or more data`);
  const w = new Float64Array(n);
  const h = new Float64Array(n);
  shapes.forEach((s, i) => {
    if (!(s[0] > 0 && s[1] > 0 && Number.isFinite(s[0]) && Number.isFinite(s[1]))) {
      throw new Error(`kmeansAnchors: shape ${i} = [${s.join(', ')}] must have positive finite width and height`);
    }
    w[i] = s[0];
    h[i] = s[1];
  });
  const centers: [number, number][] = [];
  if (opts.initialCenters) {
    if (opts.initialCenters.length !== k) throw new Error(`kmeansAnchors: ${opts.initialCenters.length} initial centers for k = ${k}`);
    centers.push(...opts.initialCenters.map(([cw, ch]) => [cw, ch] as [number, number]));
  } else {
    // k distinct boxes, uniformly (a partial Fisher–Yates shuffle)
    const random = uniformGenerator(opts.seed ?? 0);
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(random() * (n - i));
      [idx[i], idx[j]] = [idx[j], idx[i]];
      centers.push([w[idx[i]], h[idx[i]]]);
    }
  }
  const maxIterations = opts.maxIterations ?? 1000;
  const assign = new Int32Array(n).fill(-1);
  const bestIou = new Float64Array(n);
  let iterations = 0;
  let reinitialised = 0;
  const assignAll = (): boolean => {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestValue = -1;
      for (let c = 0; c < k; c++) {
        const v = shapeIou(w[i], h[i], centers[c][0], centers[c][1]);
        if (v > bestValue) {
          bestValue = v;
          best = c;
        }
      }
      bestIou[i] = bestValue;
      if (assign[i] !== best) changed = true;
      assign[i] = best;
    }
    return changed;
  };
  while (iterations < maxIterations) {
    iterations++;
    if (!assignAll() && iterations > 1) break;
    const members: number[][] = Array.from({ length: k }, () => []);
    for (let i = 0; i < n; i++) members[assign[i]].push(i);
    const taken = new Set<number>();
    for (let c = 0; c < k; c++) {
      if (members[c].length > 0) {
        centers[c] = [median(members[c].map((i) => w[i])), median(members[c].map((i) => h[i]))];
        continue;
      }
      // An empty cluster restarts at the box with the lowest best IoU that no other restart took.
      let worst = -1;
      for (let i = 0; i < n; i++) if (!taken.has(i) && (worst < 0 || bestIou[i] < bestIou[worst])) worst = i;
      taken.add(worst);
      centers[c] = [w[worst], h[worst]];
      reinitialised++;
    }
  }
  assignAll();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += bestIou[i];
  const anchors = [...centers].sort((a, b) => a[0] * a[1] - b[0] * b[1]);
  return { anchors, meanIou: sum / n, iterations, reinitialised };
}

/**
 * The reference's yolo_anchors.txt line: `w,h, w,h, …` with each value truncated to an integer.
 *
 * @example
 * formatAnchors([[12.7, 16.2], [19, 36]]); // "12,16, 19,36"
 */
export function formatAnchors(anchors: readonly (readonly number[])[]): string {
  return anchors.map(([aw, ah]) => `${Math.trunc(aw)},${Math.trunc(ah)}`).join(', ');
}
