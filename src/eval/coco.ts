/**
 * COCO bbox evaluation as pycocotools' COCOeval defines it: IoU thresholds 0.50:0.05:0.95,
 * 101 recall points, maxDets 1/10/100, area ranges all/small/medium/large, crowd regions ignored.
 * Difficult ground truth is passed as crowd, as the reference's get_coco_map does (spec §6.5).
 */
import { indicesByClass, sortByScoreDescending, type FlatBoxes } from './flat.js';
import type { CocoSummary, EvaluationResult, PrCurve } from './types.js';

// numpy's linspace: start + i·step, the last value set to stop exactly.
const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : i * ((0.95 - 0.5) / 9) + 0.5));
const RECALL_THRESHOLDS = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * (1 / 100)));
const AREA_RANGES: [number, number][] = [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]];
const EPS = 2.220446049250313e-16; // np.spacing(1)
const T = IOU_THRESHOLDS.length;
const AT = AREA_RANGES.length * T;
const IGNORED = 2;
const R = RECALL_THRESHOLDS.length;


function area(b: Float64Array, i: number): number {
  return (b[i + 2] - b[i]) * (b[i + 3] - b[i + 1]);
}

/** IoU as pycocotools' bbox IoU: no +1; for a crowd ground truth the union is the detection's area. */
function cocoIou(d: Float64Array, i: number, g: Float64Array, j: number, crowd: boolean): number {
  const iw = Math.min(d[i + 2], g[j + 2]) - Math.max(d[i], g[j]);
  if (iw <= 0) return 0;
  const ih = Math.min(d[i + 3], g[j + 3]) - Math.max(d[i + 1], g[j + 1]);
  if (ih <= 0) return 0;
  const inter = iw * ih;
  const union = crowd ? area(d, i) : area(d, i) + area(g, j) - inter;
  return inter / union;
}

/**
 * Matches one (image, class) cell for every area range and IoU threshold. Writes the outcome of kept
 * detection d to `codes[(slot + d)·AT + area·T + t]` (0 false positive, 1 true positive, 2 ignored) and
 * adds the ground truths that count in each area range to `counted`. Cells hold a handful of boxes:
 * plain arrays, much cheaper to allocate than typed arrays.
 */
function evaluateCell(gt: FlatBoxes, det: FlatBoxes, gts: number[], dets: number[], codes: Uint8Array, slot: number, counted: Float64Array): void {
  const nd = dets.length;
  const ng = gts.length;
  if (ng === 0) {
    // nothing to match (the common case): a detection counts as a miss inside the area range, else ignored
    for (let d = 0; d < nd; d++) {
      const detArea = area(det.boxes, 4 * dets[d]);
      for (let a = 0; a < AREA_RANGES.length; a++) {
        const code = detArea < AREA_RANGES[a][0] || detArea > AREA_RANGES[a][1] ? IGNORED : 0;
        for (let t = 0; t < T; t++) codes[(slot + d) * AT + a * T + t] = code;
      }
    }
    return;
  }
  const ious = new Array<number>(nd * ng);
  for (let d = 0; d < nd; d++) {
    for (let g = 0; g < ng; g++) ious[d * ng + g] = cocoIou(det.boxes, 4 * dets[d], gt.boxes, 4 * gts[g], gt.difficult[gts[g]] === 1);
  }
  const gtTaken = new Array<number>(ng);
  const gtArea = gts.map((g) => area(gt.boxes, 4 * g));
  const gtCrowd = gts.map((g) => gt.difficult[g] === 1);
  const detArea = dets.map((d) => area(det.boxes, 4 * d));
  const gtIgnore = new Array<number>(ng);
  const order = new Array<number>(ng);
  for (let a = 0; a < AREA_RANGES.length; a++) {
    const [lo, hi] = AREA_RANGES[a];
    let kept = 0;
    for (let g = 0; g < ng; g++) {
      gtIgnore[g] = gtCrowd[g] || gtArea[g] < lo || gtArea[g] > hi ? 1 : 0;
      if (!gtIgnore[g]) order[kept++] = g;
    }
    counted[a] += kept;
    // Ground truths that count first, each group in input order (pycocotools' stable sort on the flag).
    for (let g = 0, k = kept; g < ng; g++) if (gtIgnore[g]) order[k++] = g;
    for (let t = 0; t < T; t++) {
      gtTaken.fill(0);
      const base = slot * AT + a * T + t;
      for (let d = 0; d < nd; d++) {
        let iou = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
        let m = -1;
        for (let k = 0; k < ng; k++) {
          const g = order[k];
          if (gtTaken[g] && !gtCrowd[g]) continue;
          if (m > -1 && !gtIgnore[m] && gtIgnore[g]) break;
          const v = ious[d * ng + g];
          if (v < iou) continue;
          iou = v;
          m = g;
        }
        if (m === -1) {
          codes[base + d * AT] = detArea[d] < lo || detArea[d] > hi ? IGNORED : 0; // unmatched detections outside the range do not count
          continue;
        }
        codes[base + d * AT] = gtIgnore[m] ? IGNORED : 1;
        gtTaken[m] = 1;
      }
    }
  }
}

/** Mean interpolated precision over the 101 recall points and the final recall, for one accumulated list. */
function precisionRecall(tpFlags: Uint8Array, n: number, counted: number, curve?: number[]): [number, number] {
  const rc = new Float64Array(n);
  const pr = new Float64Array(n);
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < n; i++) {
    if (tpFlags[i]) tp++;
    else fp++;
    rc[i] = tp / counted;
    pr[i] = tp / (fp + tp + EPS);
  }
  for (let i = n - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
  let sum = 0;
  let p = 0;
  for (let r = 0; r < R; r++) {
    while (p < n && rc[p] < RECALL_THRESHOLDS[r]) p++; // numpy searchsorted, side 'left'
    const q = p < n ? pr[p] : 0;
    sum += q;
    if (curve) curve.push(q);
  }
  return [sum / R, n > 0 ? rc[n - 1] : 0];
}

/** COCO evaluation of flattened inputs (validated by the caller). */
export function evaluateCoco(gt: FlatBoxes, det: FlatBoxes, numImages: number, numClasses: number, maxDetections = 100): EvaluationResult {
  const gtByClass = indicesByClass(gt.classes, numClasses);
  const detByClass = indicesByClass(det.classes, numClasses);
  const maxDets = [1, 10, maxDetections]; // pycocotools maxDets
  const m100 = maxDets.length - 1;
  // precision[k][a][m][t] (mean over recall points) and recall[k][a][m][t]; −1 = no counted ground truth
  const precision: number[][][][] = [];
  const recall: number[][][][] = [];
  const curves: PrCurve[] = [];
  const groundTruthCount: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const gtOfImage = new Map<number, number[]>();
    for (const g of gtByClass[c]) {
      const list = gtOfImage.get(gt.images[g]);
      if (list) list.push(g);
      else gtOfImage.set(gt.images[g], [g]);
    }
    const sorted = sortByScoreDescending(detByClass[c], det.scores);
    const detOfImage = new Map<number, number[]>();
    for (const d of sorted) {
      const list = detOfImage.get(det.images[d]);
      if (list) list.push(d);
      else detOfImage.set(det.images[d], [d]);
    }
    // Kept detections get slots in image order, then rank within the image (their score order).
    const cellImages: number[] = [];
    let nAll = 0;
    for (let img = 0; img < numImages; img++) {
      const gts = gtOfImage.get(img);
      const dets = detOfImage.get(img);
      if (gts === undefined && dets === undefined) continue;
      cellImages.push(img);
      nAll += Math.min(dets?.length ?? 0, maxDetections);
    }
    const codes = new Uint8Array(nAll * AT);
    const slotScore = new Float64Array(nAll);
    const slotRank = new Int32Array(nAll);
    const countedAt = new Float64Array(AREA_RANGES.length);
    let slot = 0;
    for (const img of cellImages) {
      const all = detOfImage.get(img) ?? [];
      const dets = all.length > maxDetections ? all.slice(0, maxDetections) : all;
      evaluateCell(gt, det, gtOfImage.get(img) ?? [], dets, codes, slot, countedAt);
      dets.forEach((d, rank) => {
        slotScore[slot + rank] = det.scores[d];
        slotRank[slot + rank] = rank;
      });
      slot += dets.length;
    }
    // Score order over all images; ties keep slot order (image, then rank), as pycocotools' mergesort.
    const order = Array.from({ length: nAll }, (_, i) => i).sort((x, y) => slotScore[y] - slotScore[x] || x - y);
    // hits among each image's first 1 and 10 detections (for AR1 and AR10)
    const hitsAt = maxDets.slice(0, m100).map(() => new Float64Array(AT));
    for (let i = 0; i < nAll; i++) {
      const r = slotRank[i];
      for (let mi = 0; mi < m100; mi++) {
        if (r >= maxDets[mi]) continue;
        for (let at = 0; at < AT; at++) if (codes[i * AT + at] === 1) hitsAt[mi][at]++;
      }
    }
    const flags = new Uint8Array(nAll);
    const pK: number[][][] = [];
    const rK: number[][][] = [];
    for (let a = 0; a < AREA_RANGES.length; a++) {
      const counted = countedAt[a];
      if (a === 0) groundTruthCount.push(counted);
      const pA: number[][] = maxDets.map(() => []);
      const rA: number[][] = maxDets.map(() => []);
      for (let t = 0; t < T; t++) {
        if (counted === 0) {
          for (let mi = 0; mi < maxDets.length; mi++) {
            pA[mi].push(-1);
            rA[mi].push(-1);
          }
          continue;
        }
        const at = a * T + t;
        // maxDets 1 and 10 feed only AR1 / AR10 (pycocotools' summary reads precision at the largest
        // maxDets alone): their recall is the count of hits among each image's first m detections.
        for (let mi = 0; mi < m100; mi++) {
          pA[mi].push(NaN);
          rA[mi].push(hitsAt[mi][at] / counted);
        }
        let n = 0;
        for (let s = 0; s < nAll; s++) {
          const code = codes[order[s] * AT + at];
          if (code !== IGNORED) flags[n++] = code;
        }
        const curve = a === 0 && t === 0 ? [] : undefined;
        const [p, r] = precisionRecall(flags, n, counted, curve);
        if (curve) curves.push({ recall: [...RECALL_THRESHOLDS], precision: curve });
        pA[m100].push(p);
        rA[m100].push(r);
      }
      pK.push(pA);
      rK.push(rA);
    }
    if (curves.length === c) curves.push({ recall: [], precision: [] });
    precision.push(pK);
    recall.push(rK);
  }
  const mean = (values: number[]) => {
    const kept = values.filter((v) => v > -1);
    return kept.length > 0 ? kept.reduce((s, v) => s + v, 0) / kept.length : -1;
  };
  const ap = (a: number, t?: number) =>
    mean(precision.flatMap((pk) => (t === undefined ? pk[a][m100] : [pk[a][m100][t]])));
  const ar = (a: number, m: number) => mean(recall.flatMap((rk) => rk[a][m]));
  const classAp = (pk: number[][][], t?: number) => {
    const v = t === undefined ? mean(pk[0][m100]) : pk[0][m100][t];
    return v > -1 ? v : NaN;
  };
  const coco: CocoSummary = {
    ap: ap(0),
    ap50: ap(0, 0),
    ap75: ap(0, 5),
    apSmall: ap(1),
    apMedium: ap(2),
    apLarge: ap(3),
    ar1: ar(0, 0),
    ar10: ar(0, 1),
    ar100: ar(0, m100),
    arSmall: ar(1, m100),
    arMedium: ar(2, m100),
    arLarge: ar(3, m100),
    perClassAp50: precision.map((pk) => classAp(pk, 0)),
  };
  return {
    metric: 'coco',
    map: coco.ap > -1 ? coco.ap : NaN,
    perClass: precision.map((pk) => classAp(pk)),
    groundTruthCount,
    detectionCount: detByClass.map((rows) => rows.length),
    curves,
    coco,
  };
}
