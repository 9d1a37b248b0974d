import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { encodeTargets, mergeMosaicBoxes, paste, placeBoxes, planMosaic, planRandom } from './augment.js';
import { resolveAugmentOptions, SamplePipeline, type PipelineItem } from './pipeline.js';
import { createRandom } from './rng.js';

describe('box arithmetic (hand-computed)', () => {
  test('planRandom: the scale range bounds the longer side; no jitter keeps the aspect', () => {
    const rng = createRandom(5);
    for (let i = 0; i < 200; i++) {
      // a 200×100 source on a 128 canvas: the longer side becomes trunc(U(0.75, 1.25)·128), the aspect stays 2
      const p = planRandom(rng, 200, 100, 128, 128, { scale: [0.75, 1.25], jitter: 0 });
      assert.ok(p.nw >= 96 && p.nw <= 160, `nw ${p.nw}`);
      assert.equal(p.nh, Math.trunc(p.nw / 2));
    }
    // the default is the reference's U(0.25, 2): some draws fall below 0.75 and some above 1.25
    const widths = Array.from({ length: 200 }, () => planRandom(rng, 100, 100, 128, 128, { jitter: 0 }).nw);
    assert.ok(Math.min(...widths) < 96 && Math.max(...widths) > 160 && Math.min(...widths) >= 32 && Math.max(...widths) <= 256);
    assert.throws(() => resolveAugmentOptions({ inputShape: [64, 64], scale: [1.5, 1] }), /scale \[1.5,1\] must be \[min, max\]/);
    assert.throws(() => resolveAugmentOptions({ inputShape: [64, 64], jitter: 1 }), /jitter 1 must be within/);
  });

  test('placeBoxes: scale, offset, integer truncation (quirk 7), canvas flip, clip', () => {
    const p = { nw: 50, nh: 25, dx: 10, dy: -3, flip: false };
    // x1 = trunc(11·0.5 + 10) = 15, y1 = trunc(9·0.5 − 3) = 1, x2 = trunc(35.5) = 35, y2 = trunc(17.5) = 17
    assert.deepEqual(placeBoxes(createRandom(1), [[11, 9, 51, 41, 3]], 100, 50, p, 64, 64, 'canvas'), [[15, 1, 35, 17, 3]]);
    // mirrored on the 64-wide canvas: (x1, x2) ← (64 − 35, 64 − 15)
    assert.deepEqual(placeBoxes(createRandom(1), [[11, 9, 51, 41, 3]], 100, 50, { ...p, flip: true }, 64, 64, 'canvas'), [[29, 1, 49, 17, 3]]);
    // trunc(−1.5) = −1 → clipped to 0; x2 = 210 → clipped to 64
    assert.deepEqual(placeBoxes(createRandom(1), [[0, 3, 400, 41, 0]], 100, 50, p, 64, 64, 'canvas'), [[10, 0, 64, 17, 0]]);
    // 1 px wide after scaling → dropped (width must be > 1)
    assert.deepEqual(placeBoxes(createRandom(1), [[20, 10, 23, 40, 0]], 100, 50, p, 64, 64, 'canvas'), []);
    // the mosaic flips in the source image (width 100) before scaling: (11, 51) → (49, 89) → (34, 54)
    assert.deepEqual(placeBoxes(createRandom(1), [[11, 9, 51, 41, 3]], 100, 50, { ...p, flip: true }, 64, 64, 'source'), [[34, 1, 54, 17, 3]]);
  });

  test('mergeMosaicBoxes: per-quadrant rules; zero-size leftovers dropped (quirk 6 fixed)', () => {
    const cutx = 50;
    const cuty = 40;
    const merged = mergeMosaicBoxes(
      [
        [[10, 10, 60, 45, 0], [55, 10, 70, 20, 1]], // q0: clipped to the cut; starts right of cutx → dropped
        [[10, 30, 30, 60, 2]], // q1: straddles cuty → y1 = 40
        [[50, 30, 70, 40, 3]], // q2: y1 = cuty = y2 → zero height → dropped (the reference keeps it)
        [[40, 5, 80, 30, 4]], // q3: straddles cutx → x1 = 50
      ],
      cutx,
      cuty,
    );
    assert.deepEqual(merged, [[10, 10, 50, 40, 0], [10, 40, 30, 60, 2], [50, 5, 80, 30, 4]]);
  });

  test('planMosaic places tiles around the cut point, flips only tiles with boxes', () => {
    for (let s = 0; s < 50; s++) {
      const plan = planMosaic(createRandom(s), [[100, 80], [60, 120], [90, 90], [200, 50]], 128, 96, [true, false, true, false]);
      assert.ok(plan.cutx >= Math.trunc(128 * 0.3) && plan.cutx <= Math.trunc(128 * 0.7));
      const [t0, t1, t2, t3] = plan.tiles;
      assert.deepEqual([t0.dx + t0.nw, t0.dy + t0.nh], [plan.cutx, plan.cuty]);
      assert.deepEqual([t1.dx + t1.nw, t1.dy], [plan.cutx, plan.cuty]);
      assert.deepEqual([t2.dx, t2.dy], [plan.cutx, plan.cuty]);
      assert.deepEqual([t3.dx, t3.dy + t3.nh], [plan.cutx, plan.cuty]);
      assert.equal(t1.flip || t3.flip, false);
    }
  });

  test('paste cuts what falls outside the clip rectangle', () => {
    const canvas = new Uint8Array(4 * 3 * 3).fill(0);
    const src = new Uint8Array(3 * 3 * 3).fill(9);
    paste(canvas, 4, 3, src, 3, 3, -1, 1, [0, 0, 2, 3]);
    const lit = [];
    for (let i = 0; i < 12; i++) if (canvas[i * 3] === 9) lit.push([i % 4, Math.floor(i / 4)]);
    assert.deepEqual(lit, [[0, 1], [1, 1], [0, 2], [1, 2]]);
  });

  test('encodeTargets gives normalised cx, cy, w, h, cls', () => {
    assert.deepEqual(Array.from(encodeTargets([[0, 0, 208, 104, 2], [104, 52, 312, 416, 0]], 416, 416)), [0.25, 0.125, 0.5, 0.25, 2, 0.5, 0.5625, 0.5, 0.875, 0]);
  });
});

// Draw-free check: an image with one filled red rectangle on black; after each transform the box must
// match the red pixels' bounding box (HSV jitter keeps red saturated and black black; grey canvas has S = 0).
describe('boxes stay on the transformed pixels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'focal-yolo-aug-'));
  const rect = [30, 20, 70, 60];
  let item: PipelineItem;
  before(async () => {
    const w = 120;
    const h = 80;
    const px = Buffer.alloc(w * h * 3, 0);
    for (let y = rect[1]; y < rect[3]; y++) for (let x = rect[0]; x < rect[2]; x++) px[(y * w + x) * 3] = 255;
    const file = join(dir, 'rect.png');
    writeFileSync(file, await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
    item = { image: file, rows: [[...rect, 1]] };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Bounding box of saturated pixels inside [x0, x1) × [y0, y1), or undefined. */
  function redBox(px: Uint8Array, w: number, region: number[]): number[] | undefined {
    const [x0, y0, x1, y1] = region;
    let bx1 = Infinity, by1 = Infinity, bx2 = -1, by2 = -1;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const o = (y * w + x) * 3;
        if (Math.max(px[o], px[o + 1], px[o + 2]) - Math.min(px[o], px[o + 1], px[o + 2]) > 25) {
          bx1 = Math.min(bx1, x);
          by1 = Math.min(by1, y);
          bx2 = Math.max(bx2, x + 1);
          by2 = Math.max(by2, y + 1);
        }
      }
    }
    return bx2 < 0 ? undefined : [bx1, by1, bx2, by2];
  }

  function assertMatches(box: number[] | undefined, pixels: number[] | undefined, tol: number, what: string): void {
    if (box === undefined) {
      // filtered out: whatever is left of the rectangle is at most a sliver
      if (pixels) assert.ok(pixels[2] - pixels[0] <= 4 || pixels[3] - pixels[1] <= 4, `${what}: box dropped but pixels ${pixels} remain`);
      return;
    }
    assert.ok(pixels, `${what}: box ${box} but no red pixels`);
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(box[j] - pixels[j]) <= tol, `${what}: box ${box} vs pixels ${pixels}`);
  }

  test('letterbox (validation path)', async () => {
    const p = new SamplePipeline([item], { inputShape: [96, 128], train: false });
    const s = await p.sample(0, 0, 0);
    assert.equal(s.kind, 'letterbox');
    // scale = min(128/120, 96/80) → 128 x 85 at dy = 5; boxes use nw/iw = 128/120 and nh/ih = 85/80:
    // x: trunc(30·1.0667) = 32, trunc(70·1.0667) = 74; y: trunc(20·1.0625 + 5) = 26, trunc(60·1.0625 + 5) = 68
    assert.deepEqual(s.rows, [[32, 26, 74, 68, 1]]);
    // truncation (< 1 px) plus the bicubic edge (about 1 px)
    assertMatches(s.rows[0], redBox(s.pixels, 128, [0, 0, 128, 96]), 2, 'letterbox');
  });

  test('ordinary random augmentation, 40 draws', async () => {
    const p = new SamplePipeline([item], { inputShape: [96, 96], mosaic: false });
    let flips = 0;
    for (let k = 0; k < 40; k++) {
      const rng = createRandom(7, k);
      const s = await p.random(rng, item);
      const pixels = redBox(s.pixels, 96, [0, 0, 96, 96]);
      assertMatches(s.rows[0], pixels, 3, `draw ${k}`);
      if (s.rows[0] && pixels && s.rows[0][0] > 96 / 2) flips++;
    }
    assert.ok(flips > 0, 'some draws land right of centre');
  });

  test('mosaic: each quadrant’s box matches its red pixels, 30 draws', async () => {
    const p = new SamplePipeline([item], { inputShape: [128, 128], mosaic: true, mosaicProb: 1, mixup: false });
    for (let k = 0; k < 30; k++) {
      const rng = createRandom(9, k);
      const s = await p.mosaic(rng, [item, item, item, item]);
      // recover the cut point the same way the pipeline drew it
      const plan = planMosaic(createRandom(9, k), [[120, 80], [120, 80], [120, 80], [120, 80]], 128, 128, [true, true, true, true]);
      const { cutx, cuty } = plan;
      const quadrants = [[0, 0, cutx, cuty], [0, cuty, cutx, 128], [cutx, cuty, 128, 128], [cutx, 0, 128, cuty]];
      for (const q of quadrants) {
        const inQ = s.rows.filter((r) => r[0] >= q[0] && r[2] <= q[2] && r[1] >= q[1] && r[3] <= q[3]);
        assert.ok(inQ.length <= 1, `draw ${k}: ${inQ.length} boxes in one quadrant`);
        assertMatches(inQ[0], redBox(s.pixels, 128, q), 3, `draw ${k} quadrant ${q}`);
      }
      assert.ok(s.rows.every((r) => r[2] > r[0] && r[3] > r[1]), 'no zero-size boxes');
    }
  });
});
