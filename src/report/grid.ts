/**
 * The grid of validation images: predictions drawn the reference's way (`drawDetections`), ground
 * truth laid over them as dashed white boxes, tiles composed into one JPEG with sharp.
 */
import sharp from 'sharp';
import { drawDetections, type Detection } from '../infer/index.js';

/** One tile of the grid. */
export interface GridImage {
  /** Image file path. */
  image: string;
  /** Ground-truth boxes `[x1, y1, x2, y2]` in image pixels. */
  boxes: number[][];
  /** Predictions in image pixels. */
  detections: readonly Detection[];
}

/** Options of {@link renderValidationGrid}. */
export interface GridOptions {
  numClasses: number;
  /** Tile side in pixels (default 224). */
  tileSize?: number;
  /** Tiles per row (default 4). */
  columns?: number;
}

/** The ground-truth overlay of one image: dashed white boxes with a dark edge so they show on any background. */
function groundTruthOverlay(width: number, height: number, boxes: number[][]): Buffer {
  const rects = boxes.map(([x1, y1, x2, y2]) => {
    const geometry = `x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${Math.max(0, x2 - x1).toFixed(1)}" height="${Math.max(0, y2 - y1).toFixed(1)}" fill="none"`;
    return `<rect ${geometry} stroke="#000" stroke-width="2.5"/><rect ${geometry} stroke="#fff" stroke-width="1.2" stroke-dasharray="4 3"/>`;
  });
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${rects.join('')}</svg>`);
}

/**
 * One tile: the image scaled to fit a `size`×`size` square first (so lines and labels have the same
 * size on every tile), predictions drawn, ground truth over them, centred on grey.
 */
async function tile(item: GridImage, opts: GridOptions, size: number): Promise<Buffer> {
  const { width, height } = await sharp(item.image).metadata();
  if (!width || !height) throw new Error(`image ${item.image} has no size: pass a JPEG, PNG or WebP`);
  const scale = Math.min(size / width, size / height);
  const [w, h] = [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  const scaled = await sharp(item.image).resize(w, h, { fit: 'fill' }).png().toBuffer();
  const box = (b: readonly number[]) => b.map((v) => v * scale);
  const detections = item.detections.map((d) => ({ ...d, box: box(d.box) as Detection['box'] }));
  const drawn = await drawDetections(scaled, detections, { numClasses: opts.numClasses, inputShape: [h, w], minFontSize: 10 });
  const withTruth = await sharp(drawn).composite([{ input: groundTruthOverlay(w, h, item.boxes.map(box)), top: 0, left: 0 }]).removeAlpha().png().toBuffer();
  return sharp({ create: { width: size, height: size, channels: 3, background: '#808080' } })
    .composite([{ input: withTruth, left: Math.floor((size - w) / 2), top: Math.floor((size - h) / 2) }])
    .png()
    .toBuffer();
}

/**
 * Renders `items` as a grid JPEG (predictions in class colours with scores, ground truth dashed white);
 * JPEG because the tiles are photographic (a fifth of the PNG's bytes).
 *
 * @example
 * ```ts
 * const png = await renderValidationGrid([{ image: 'val/0.jpg', boxes: [[4, 4, 40, 40]], detections }], { numClasses: 3 });
 * ```
 */
export async function renderValidationGrid(items: readonly GridImage[], opts: GridOptions): Promise<Uint8Array> {
  if (items.length === 0) throw new Error('renderValidationGrid: no images given; pass at least one validation image');
  const size = opts.tileSize ?? 224;
  const columns = Math.min(opts.columns ?? 4, items.length);
  const rows = Math.ceil(items.length / columns);
  const gap = 4;
  const tiles = await Promise.all(items.map((item) => tile(item, opts, size)));
  const jpeg = await sharp({
    create: { width: columns * size + (columns + 1) * gap, height: rows * size + (rows + 1) * gap, channels: 3, background: '#ffffff' },
  })
    .composite(tiles.map((input, i) => ({ input, left: gap + (i % columns) * (size + gap), top: gap + Math.floor(i / columns) * (size + gap) })))
    .jpeg({ quality: 85 })
    .toBuffer();
  return new Uint8Array(jpeg);
}
