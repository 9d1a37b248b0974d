/**
 * Drawing detections the reference's way (reference-spec §5.6): class colours from HSV hues, nested
 * rectangles `thickness` pixels wide, a filled label box above the box (inside when there is no
 * room) with black text. Boxes are drawn into the pixels; the labels are SVG text (font DejaVu Sans,
 * Debian's fonts-dejavu-core, instead of the reference's simhei.ttf) composited by sharp.
 */
import sharp, { type OutputInfo } from 'sharp';
import type { Detection } from './detector.js';

/** Options of {@link drawDetections}. */
export interface DrawOptions {
  /** number of classes (sets the colour wheel) */
  numClasses: number;
  /** network input `[height, width]`: line thickness = max(⌊(W_img + H_img) / mean(input)⌋, 1) (default [416, 416]) */
  inputShape?: [number, number];
  /** output encoding (default png) */
  format?: 'png' | 'jpeg';
  /** smallest label font size in pixels (default 10; the reference's ⌊0.03·H + 0.5⌋ is unreadable on small images) */
  minFontSize?: number;
}

/**
 * The reference's class colour: HSV (k / C, 1, 1) → RGB, each channel ⌊255·v⌋.
 *
 * @example
 * classColor(0, 3); // [255, 0, 0]
 * classColor(1, 3); // [0, 255, 0]
 */
export function classColor(k: number, numClasses: number): [number, number, number] {
  const h = k / numClasses;
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const [q, t] = [1 - f, f];
  const rgb = [[1, t, 0], [q, 1, 0], [0, 1, t], [0, q, 1], [t, 0, 1], [1, 0, q]][i % 6];
  return rgb.map((v) => Math.floor(v * 255)) as [number, number, number];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/** Fills the inclusive pixel rectangle [x1, x2] × [y1, y2], clipped to the image. */
function fill(px: Uint8Array, width: number, height: number, x1: number, y1: number, x2: number, y2: number, color: readonly number[]): void {
  const xa = Math.max(0, x1);
  const xb = Math.min(width - 1, x2);
  const ya = Math.max(0, y1);
  const yb = Math.min(height - 1, y2);
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const p = 3 * (y * width + x);
      px[p] = color[0];
      px[p + 1] = color[1];
      px[p + 2] = color[2];
    }
  }
}

/** Draws the outline of the inclusive rectangle (one pixel wide), clipped to the image. */
function outline(px: Uint8Array, width: number, height: number, x1: number, y1: number, x2: number, y2: number, color: readonly number[]): void {
  if (x2 < x1 || y2 < y1) return;
  fill(px, width, height, x1, y1, x2, y1, color);
  fill(px, width, height, x1, y2, x2, y2, color);
  fill(px, width, height, x1, y1, x1, y2, color);
  fill(px, width, height, x2, y1, x2, y2, color);
}

/**
 * Draws detections on an image and returns the encoded result.
 *
 * @param image a file path or encoded image bytes
 * @example
 * ```ts
 * const png = await drawDetections('street.jpg', await detector.detect('street.jpg'), { numClasses: 80 });
 * writeFileSync('street.out.png', png);
 * ```
 */
export async function drawDetections(image: string | Buffer, detections: readonly Detection[], opts: DrawOptions): Promise<Buffer> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(image, { failOn: 'error' }).autoOrient().flatten({ background: '#808080' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    const what = typeof image === 'string' ? `image ${image}` : 'the image bytes';
    throw new Error(`${what} cannot be decoded (${(err as Error).message.split('\n')[0]}): pass a JPEG, PNG or WebP`);
  }
  const { width, height } = decoded.info;
  const px = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.length);
  const [inH, inW] = opts.inputShape ?? [416, 416];
  const thickness = Math.max(Math.floor((width + height) / ((inH + inW) / 2)), 1);
  const fontSize = Math.max(Math.floor(0.03 * height + 0.5), opts.minFontSize ?? 10);
  const texts: string[] = [];
  for (const d of detections) {
    const color = classColor(d.classId, opts.numClasses);
    const top = Math.max(0, Math.floor(d.box[1]));
    const left = Math.max(0, Math.floor(d.box[0]));
    const bottom = Math.min(height, Math.floor(d.box[3]));
    const right = Math.min(width, Math.floor(d.box[2]));
    for (let i = 0; i < thickness; i++) outline(px, width, height, left + i, top + i, right - i, bottom - i, color);
    const label = `${d.className} ${d.score.toFixed(2)}`;
    // DejaVu Sans: about 0.6 em per character; a line box of 1.2 em
    const labelW = Math.ceil(0.6 * fontSize * label.length) + 2;
    const labelH = Math.ceil(1.2 * fontSize);
    const y0 = top - labelH >= 0 ? top - labelH : top + 1;
    fill(px, width, height, left, y0, left + labelW - 1, y0 + labelH - 1, color);
    texts.push(`<text x="${left + 1}" y="${y0 + fontSize}" font-family="DejaVu Sans" font-size="${fontSize}" fill="#000">${escapeXml(label)}</text>`);
  }
  let out = sharp(Buffer.from(px.buffer, px.byteOffset, px.length), { raw: { width, height, channels: 3 } });
  if (texts.length > 0) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`;
    out = sharp(await out.png().toBuffer()).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
    out = sharp(await out.removeAlpha().png().toBuffer()); // composite adds an alpha channel: keep RGB
  }
  return opts.format === 'jpeg' ? out.jpeg({ quality: 92 }).toBuffer() : out.png().toBuffer();
}
