/**
 * From raw head outputs to boxes (reference-spec §5.3–5.5), as plain loops on typed arrays after
 * one read of the outputs: decode every anchor of every cell, threshold on objectness × class
 * probability, class-wise NMS, then map the boxes back to original image pixels.
 */
import { batchedNms, type NmsOptions } from '../boxes/nms.js';

/** One output level of one image: NHWC data `[height, width, anchors·(5+C)]`. */
export interface HeadOutput {
  data: ArrayLike<number>;
  height: number;
  width: number;
}

/** Options of {@link decodeOutputs}. */
export interface DecodeOptions {
  /** network input `[height, width]` in pixels */
  inputShape: [number, number];
  numClasses: number;
  /** anchors `[w, h]` in input pixels */
  anchors: readonly (readonly [number, number])[];
  /** anchor indices of each level, level 0 (stride 32) first */
  anchorsMask: readonly (readonly number[])[];
  /**
   * darknet's `scale_x_y` per level (e.g. [1.05, 1.1, 1.2] for yolov4.cfg, [1.05, 1.05] for tiny):
   * x = σ(t)·s − (s − 1)/2 + cell. Default 1 everywhere, as the reference (quirk 22).
   */
  scaleXY?: readonly number[];
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Decodes the head outputs of one image into rows `[cx, cy, w, h, objectness, p_0 … p_{C−1}]`,
 * box values normalised to 0..1 of the network input, probabilities after the sigmoid. Rows are
 * ordered level by level (level 0 first), then anchor slot, row, column, as the reference.
 *
 * @returns Float32Array `[N, 5 + C]` row-major, N = Σ anchors·H·W
 * @example
 * const rows = decodeOutputs([{ data: raw0, height: 13, width: 13 }, …], {
 *   inputShape: [416, 416], numClasses: 20, anchors: YOLOV4_ANCHORS, anchorsMask: YOLOV4_ANCHORS_MASK });
 */
export function decodeOutputs(levels: readonly HeadOutput[], opts: DecodeOptions): Float32Array {
  const { inputShape, numClasses, anchors, anchorsMask } = opts;
  const attrs = 5 + numClasses;
  if (levels.length !== anchorsMask.length) {
    throw new Error(`decodeOutputs: ${levels.length} output levels but anchorsMask has ${anchorsMask.length}; pass every level of the model`);
  }
  let total = 0;
  levels.forEach((lv, l) => {
    const expected = lv.height * lv.width * anchorsMask[l].length * attrs;
    if (lv.data.length !== expected) {
      throw new Error(
        `decodeOutputs: level ${l} has ${lv.data.length} values, expected ${lv.height}×${lv.width}×${anchorsMask[l].length}·(5+${numClasses}) = ${expected}; check numClasses`,
      );
    }
    total += lv.height * lv.width * anchorsMask[l].length;
  });
  const out = new Float32Array(total * attrs);
  const [inH, inW] = inputShape;
  let row = 0;
  levels.forEach((lv, l) => {
    const { data, height: H, width: W } = lv;
    const mask = anchorsMask[l];
    const A = mask.length;
    const s = opts.scaleXY?.[l] ?? 1;
    const shift = (s - 1) / 2;
    const strideH = inH / H;
    const strideW = inW / W;
    for (let a = 0; a < A; a++) {
      const [anchorW, anchorH] = anchors[mask[a]];
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const src = (y * W + x) * A * attrs + a * attrs; // NHWC, channel = a·(5+C) + k
          const dst = row * attrs;
          out[dst] = (sigmoid(data[src]) * s - shift + x) / W;
          out[dst + 1] = (sigmoid(data[src + 1]) * s - shift + y) / H;
          out[dst + 2] = (Math.exp(data[src + 2]) * (anchorW / strideW)) / W;
          out[dst + 3] = (Math.exp(data[src + 3]) * (anchorH / strideH)) / H;
          for (let k = 4; k < attrs; k++) out[dst + k] = sigmoid(data[src + k]);
          row++;
        }
      }
    }
  });
  return out;
}

/** A detection before mapping to image pixels: corners normalised to the network input. */
export interface RawDetection {
  /** `[x1, y1, x2, y2]`, 0..1 of the network input */
  box: [number, number, number, number];
  objectness: number;
  classScore: number;
  classId: number;
  /** objectness × class probability */
  score: number;
}

/** Options of {@link suppressDetections}. */
export interface PostprocessOptions {
  /** keep rows with objectness × class probability ≥ this (default 0.5, the reference's confidence) */
  confidence?: number;
  /** NMS IoU (default 0.3, the reference's nms_iou) */
  nmsIou?: number;
  /** see {@link NmsOptions.suppress} */
  suppress?: NmsOptions['suppress'];
  /** keep at most this many detections, highest score first (default: all, as the reference) */
  maxDetections?: number;
}

/**
 * Threshold and class-wise NMS of decoded rows (§5.4): class = argmax of the class probabilities,
 * score = objectness × that probability; rows with score ≥ `confidence` go through NMS per class
 * (ascending class id) in normalised input coordinates.
 *
 * @param rows output of {@link decodeOutputs}
 * @example
 * const dets = suppressDetections(decodeOutputs(levels, opts), 20, { confidence: 0.5, nmsIou: 0.3 });
 */
export function suppressDetections(rows: Float32Array, numClasses: number, opts: PostprocessOptions = {}): RawDetection[] {
  const confidence = opts.confidence ?? 0.5;
  const nmsIou = opts.nmsIou ?? 0.3;
  if (!(confidence >= 0 && confidence <= 1)) throw new Error(`suppressDetections: confidence = ${confidence} must be in [0, 1]`);
  const attrs = 5 + numClasses;
  if (rows.length % attrs !== 0) {
    throw new Error(`suppressDetections: ${rows.length} values are not rows of 5 + ${numClasses}; check numClasses`);
  }
  const candidates: RawDetection[] = [];
  for (let r = 0; r < rows.length; r += attrs) {
    let best = 5;
    for (let k = 6; k < attrs; k++) if (rows[r + k] > rows[r + best]) best = k;
    const objectness = rows[r + 4];
    const classScore = rows[r + best];
    const score = objectness * classScore;
    if (!(score >= confidence)) continue;
    const [cx, cy, w, h] = [rows[r], rows[r + 1], rows[r + 2], rows[r + 3]];
    candidates.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], objectness, classScore, classId: best - 5, score });
  }
  const boxes = new Float64Array(4 * candidates.length);
  candidates.forEach((d, i) => boxes.set(d.box, 4 * i));
  const kept = batchedNms(
    boxes,
    candidates.map((d) => d.score),
    candidates.map((d) => d.classId),
    { iouThreshold: nmsIou, suppress: opts.suppress },
  );
  const out = Array.from(kept, (i) => candidates[i]);
  if (opts.maxDetections !== undefined && out.length > opts.maxDetections) {
    return [...out].sort((a, b) => b.score - a.score).slice(0, opts.maxDetections);
  }
  return out;
}

/** Python's and numpy's round: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Maps a box from normalised network-input coordinates to original image pixels (§5.5). With
 * `letterbox`, undoes the centred, aspect-preserving resize (the reference's `round` of the resized
 * size, quirk 15); without, undoes a plain stretch. Not clipped to the image.
 *
 * @param box `[x1, y1, x2, y2]`, 0..1 of the network input
 * @param imageSize `[width, height]` of the original image
 * @param inputShape `[height, width]` of the network input
 * @returns `[x1, y1, x2, y2]` in image pixels
 * @example
 * correctBox([0.25, 0.25, 0.75, 0.75], [640, 320], [416, 416], true); // [160, 0, 480, 320]
 */
export function correctBox(
  box: readonly number[],
  imageSize: [number, number],
  inputShape: [number, number],
  letterbox: boolean,
): [number, number, number, number] {
  const [imgW, imgH] = imageSize;
  let [x1, y1, x2, y2] = box;
  if (letterbox) {
    const [inH, inW] = inputShape;
    const ratio = Math.min(inH / imgH, inW / imgW);
    const newH = roundHalfEven(imgH * ratio);
    const newW = roundHalfEven(imgW * ratio);
    const offY = (inH - newH) / 2 / inH;
    const offX = (inW - newW) / 2 / inW;
    const scaleY = inH / newH;
    const scaleX = inW / newW;
    const cx = ((x1 + x2) / 2 - offX) * scaleX;
    const cy = ((y1 + y2) / 2 - offY) * scaleY;
    const w = (x2 - x1) * scaleX;
    const h = (y2 - y1) * scaleY;
    [x1, y1, x2, y2] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
  }
  return [x1 * imgW, y1 * imgH, x2 * imgW, y2 * imgH];
}
