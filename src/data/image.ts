/**
 * Image decoding and resizing through sharp (JPEG, PNG, WebP, …): EXIF orientation applied,
 * grayscale expanded to RGB, alpha flattened onto the reference's grey 128. Never a hand-written decoder.
 */
import sharp from 'sharp';
import { resizeBicubic, sourceRows } from './resample.js';

/** The grey the reference fills empty canvas with. */
export const GREY = 128;

/** How images are resized: Pillow's BICUBIC reproduced exactly (the pipeline's default) or libvips' bicubic. */
export type Resampler = 'libvips' | 'pil';

/** An 8-bit RGB image, row-major HWC. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decoded images kept in memory, up to a byte budget (the least recently used is dropped first), like
 * Ultralytics' `cache=ram`: each image is decoded once and then only resized. Results are the same as
 * without the cache (bit for bit with the `'pil'` resampler). One per thread: each data worker has its own.
 *
 * @example
 * const cache = new ImageCache(512 * 2 ** 20);
 * const img = await decodeImage('a.jpg', { size: [208, 160], cache });
 */
export class ImageCache {
  /** path → the decode and the bytes it holds once done (0 while decoding); most recently used last */
  private readonly images = new Map<string, { image: Promise<RgbImage>; bytes: number }>();
  /** bytes of the decoded images held */
  bytes = 0;
  hits = 0;
  misses = 0;
  /** images dropped to stay within the budget */
  evictions = 0;

  constructor(readonly budgetBytes: number) {
    if (!(budgetBytes >= 0)) throw new Error(`ImageCache: budget ${budgetBytes} bytes must be ≥ 0`);
  }

  /** Images held. */
  get size(): number {
    return this.images.size;
  }

  /** The decoded image (oriented, RGB), from memory or decoded now. */
  get(path: string): Promise<RgbImage> {
    const held = this.images.get(path);
    if (held) {
      this.hits++;
      this.images.delete(path);
      this.images.set(path, held);
      return held.image;
    }
    this.misses++;
    const entry = { image: decodeImage(path), bytes: 0 };
    this.images.set(path, entry);
    entry.image.then(
      (img) => {
        if (this.images.get(path) !== entry) return;
        entry.bytes = img.data.length;
        this.bytes += entry.bytes;
        for (const [other, e] of this.images) {
          if (this.bytes <= this.budgetBytes) break;
          if (other === path) continue;
          this.images.delete(other);
          this.bytes -= e.bytes;
          this.evictions++;
        }
      },
      () => {
        if (this.images.get(path) === entry) this.images.delete(path);
      },
    );
    return entry.image;
  }
}

/**
 * Size of an image after EXIF orientation, from its header only.
 *
 * @example
 * const { width, height } = await imageSize('photo.jpg');
 */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(path).metadata();
  } catch (err) {
    throw new Error(`image ${path} cannot be read (${firstLine(err)}): check the file exists and is a JPEG, PNG or WebP`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new Error(`image ${path} has no size in its header: re-save it as JPEG or PNG`);
  return { width, height };
}

/** Source pixels for a resize: rows `top…` of an image `width × height` (all rows when top is 0 and they are all there). */
export interface SourceRows {
  data: Uint8Array;
  width: number;
  height: number;
  top: number;
}

/**
 * The source pixels a PIL-exact resize of `path` to `size` needs for `region`: the decoded image from
 * `cache`, or, when the size is known, only the source rows the region reads (a JPEG decode stops
 * where they end), else the whole image. Not mirrored: {@link resizeBicubic} mirrors exactly.
 *
 * @example
 * const src = await sourceForResize('a.jpg', [208, 160], [0, 80, 208, 80], [416, 320]);
 * const out = resizeBicubic(src.data, src.width, src.height, 208, 160, [0, 80, 208, 80], src.top);
 */
export async function sourceForResize(
  path: string,
  size: [number, number],
  region: [number, number, number, number],
  sourceSize?: [number, number],
  cache?: ImageCache,
): Promise<SourceRows> {
  if (cache) {
    const full = await cache.get(path);
    return { data: full.data, width: full.width, height: full.height, top: 0 };
  }
  if (sourceSize) {
    const [sw, sh] = sourceSize;
    const [y0, y1] = sourceRows(sh, size[1], region[1], region[3]);
    const part = await decodeImage(path, { rows: [y0, y1 - y0], sourceSize });
    if (part.width !== sw) throw new Error(`image ${path} is ${part.width} pixels wide, not ${sw}: it changed while in use`);
    return { data: part.data, width: sw, height: sh, top: y0 };
  }
  const full = await decodeImage(path);
  return { data: full.data, width: full.width, height: full.height, top: 0 };
}

/**
 * Decodes an image to 8-bit RGB, optionally mirrored and resized (bicubic, aspect not kept).
 *
 * @param path image file
 * @param opts.size `[width, height]` to resize to; omitted → original size
 * @param opts.flip mirror horizontally (before resizing)
 * @param opts.region `[left, top, width, height]` of the (resized) image to return; omitted → all of it
 * @param opts.resampler `'libvips'` (default here: sharp resizes) or `'pil'` (Pillow's BICUBIC bit for bit, in WebAssembly)
 * @param opts.rows `[top, height]`: decode only these rows of the (oriented) image (not with `size`)
 * @param opts.cache keep the decoded image in this {@link ImageCache} and resize from memory (needs `size`)
 * @param opts.sourceSize `[width, height]` of the image when known: with `'pil'` only the source rows the
 *   region needs are decoded (a JPEG decode stops early when they end high up)
 * @example
 * const img = await decodeImage('a.jpg', { size: [208, 160] }); // img.data.length === 208 * 160 * 3
 */
export async function decodeImage(
  path: string,
  opts: {
    size?: [number, number];
    flip?: boolean;
    region?: [number, number, number, number];
    resampler?: Resampler;
    rows?: [number, number];
    sourceSize?: [number, number];
    cache?: ImageCache;
  } = {},
): Promise<RgbImage> {
  if (opts.size && opts.resampler === 'pil') {
    const [w, h] = opts.size;
    const region = opts.region ?? [0, 0, w, h];
    const src = await sourceForResize(path, opts.size, region, opts.sourceSize, opts.cache);
    return { data: resizeBicubic(src.data, src.width, src.height, w, h, region, src.top, opts.flip), width: region[2], height: region[3] };
  }
  // from the cache's decoded pixels (oriented, flattened RGB already) or from the file
  const full = opts.cache && opts.size ? await opts.cache.get(path) : undefined;
  let pipeline = full ? sharp(full.data, { raw: { width: full.width, height: full.height, channels: 3 } }) : sharp(path, { failOn: 'error' }).autoOrient();
  if (opts.flip) pipeline = pipeline.flop();
  pipeline = pipeline.flatten({ background: { r: GREY, g: GREY, b: GREY } });
  if (opts.rows && !opts.size) {
    // after autoOrient (sharp orients before extracting): rows of the image as displayed
    const width = opts.sourceSize?.[0] ?? (await imageSize(path)).width;
    const [top, height] = opts.rows;
    pipeline = pipeline.extract({ left: 0, top, width, height });
  }
  if (opts.size) {
    const [w, h] = opts.size;
    pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'cubic' });
  }
  if (opts.region) {
    // libvips computes on demand: only the pixels of the region are resampled.
    const [left, top, width, height] = opts.region;
    pipeline = pipeline.extract({ left, top, width, height });
  }
  try {
    const { data, info } = await pipeline.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new Error(`image ${path} cannot be decoded (${firstLine(err)}): check the file is a valid JPEG, PNG or WebP`);
  }
}

/**
 * Encodes an RGB image to PNG or JPEG bytes.
 *
 * @example
 * const png = await encodeImage(img, 'png');
 */
export async function encodeImage(img: RgbImage, format: 'png' | 'jpeg', quality = 92): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
  return format === 'png' ? s.png({ compressionLevel: 3 }).toBuffer() : s.jpeg({ quality }).toBuffer();
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
