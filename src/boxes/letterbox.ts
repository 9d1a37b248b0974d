/**
 * Box format conversions and the letterbox transform (§3.4 of the reference spec): pure math on
 * numbers, no image work.
 */

/**
 * Converts corner boxes to centre form, element-wise over rows of 4 (`[x1,y1,x2,y2]` → `[cx,cy,w,h]`).
 *
 * @param boxes flat rows of 4, length 4·n
 * @returns a new Float32Array, length 4·n
 * @example
 * xyxyToCxcywh([0, 0, 10, 20]); // Float32Array [5, 10, 10, 20]
 */
export function xyxyToCxcywh(boxes: ArrayLike<number>): Float32Array {
  if (boxes.length % 4 !== 0) throw new Error(`xyxyToCxcywh: length ${boxes.length} is not a multiple of 4; pass rows [x1,y1,x2,y2]`);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    const w = boxes[i + 2] - boxes[i];
    const h = boxes[i + 3] - boxes[i + 1];
    out[i] = boxes[i] + w / 2;
    out[i + 1] = boxes[i + 1] + h / 2;
    out[i + 2] = w;
    out[i + 3] = h;
  }
  return out;
}

/**
 * Converts centre boxes to corner form (`[cx,cy,w,h]` → `[x1,y1,x2,y2]`).
 *
 * @param boxes flat rows of 4, length 4·n
 * @returns a new Float32Array, length 4·n
 * @example
 * cxcywhToXyxy([5, 10, 10, 20]); // Float32Array [0, 0, 10, 20]
 */
export function cxcywhToXyxy(boxes: ArrayLike<number>): Float32Array {
  if (boxes.length % 4 !== 0) throw new Error(`cxcywhToXyxy: length ${boxes.length} is not a multiple of 4; pass rows [cx,cy,w,h]`);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = boxes[i] - boxes[i + 2] / 2;
    out[i + 1] = boxes[i + 1] - boxes[i + 3] / 2;
    out[i + 2] = boxes[i] + boxes[i + 2] / 2;
    out[i + 3] = boxes[i + 1] + boxes[i + 3] / 2;
  }
  return out;
}

/** Where an image of size (iw, ih) lands inside a (w, h) letterbox canvas. */
export interface LetterboxPlacement {
  /** scale factor applied to the image */
  scale: number;
  /** resized width and height, `int(iw·scale)`, `int(ih·scale)` */
  nw: number;
  nh: number;
  /** offset of the resized image's top-left corner: `(w − nw) // 2`, `(h − nh) // 2` */
  dx: number;
  dy: number;
}

/**
 * The reference's letterbox placement: keep aspect, fit inside, centre with floor division.
 *
 * @param imageSize `[iw, ih]` of the source image (pixels)
 * @param inputSize `[w, h]` of the network input (pixels)
 * @example
 * letterbox([640, 480], [416, 416]); // { scale: 0.65, nw: 416, nh: 312, dx: 0, dy: 52 }
 */
export function letterbox(imageSize: [number, number], inputSize: [number, number]): LetterboxPlacement {
  const [iw, ih] = imageSize;
  const [w, h] = inputSize;
  if (!(iw > 0 && ih > 0 && w > 0 && h > 0)) {
    throw new Error(`letterbox: sizes must be positive, got image ${iw}x${ih} and input ${w}x${h}`);
  }
  const scale = Math.min(w / iw, h / ih);
  const nw = Math.max(1, Math.trunc(iw * scale));
  const nh = Math.max(1, Math.trunc(ih * scale));
  return { scale, nw, nh, dx: Math.floor((w - nw) / 2), dy: Math.floor((h - nh) / 2) };
}
