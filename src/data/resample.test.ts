import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../test/helpers.js';
import { decodeImage } from './image.js';
import { resizeBicubic, sourceRows } from './resample.js';

const DIR = join(REPO_ROOT, 'test', 'fixtures', 'data', 'resample');
const golden = JSON.parse(readFileSync(join(DIR, 'pil-bicubic.json'), 'utf8')) as { cases: { size: [number, number]; rgb: string }[] };

test('resizeBicubic equals Pillow 9.4 BICUBIC byte for byte (enlarging, reducing, mixed)', async () => {
  const src = await decodeImage(join(DIR, 'src.png'));
  assert.deepEqual([src.width, src.height], [23, 17]);
  for (const { size, rgb } of golden.cases) {
    const [w, h] = size;
    const expected = Buffer.from(rgb, 'base64');
    const actual = resizeBicubic(src.data, 23, 17, w, h);
    let differ = 0;
    for (let i = 0; i < actual.length; i++) if (actual[i] !== expected[i]) differ++;
    assert.equal(differ, 0, `${w}x${h}: ${differ} of ${actual.length} bytes differ from PIL`);
  }
});

test('a region is exactly the crop of the full resize', async () => {
  const src = await decodeImage(join(DIR, 'src.png'));
  const full = resizeBicubic(src.data, 23, 17, 50, 41);
  const [l, t, w, h] = [7, 11, 30, 19];
  const part = resizeBicubic(src.data, 23, 17, 50, 41, [l, t, w, h]);
  for (let y = 0; y < h; y++) {
    assert.deepEqual(Array.from(part.subarray(y * w * 3, (y + 1) * w * 3)), Array.from(full.subarray(((y + t) * 50 + l) * 3, ((y + t) * 50 + l + w) * 3)), `row ${y}`);
  }
  assert.throws(() => resizeBicubic(src.data, 23, 17, 50, 41, [40, 0, 20, 5]), /region \[40,0,20,5\] is not inside the 50x41 output/);
});

test('the validation path with resampler "pil" is the reference letterbox exactly', async () => {
  const { SamplePipeline } = await import('./pipeline.js');
  const p = new SamplePipeline([{ image: join(DIR, 'src.png'), rows: [] }], { inputShape: [64, 64], train: false, resampler: 'pil' });
  const s = await p.sample(0, 0, 0);
  // 23x17 → scale min(64/23, 64/17): 64 x 47 at dy = (64 − 47) // 2 = 8, grey 128 above and below
  const expected = Buffer.from(golden.cases.find((c) => c.size[0] === 64 && c.size[1] === 47)!.rgb, 'base64');
  assert.deepEqual(Array.from(s.pixels.subarray(8 * 64 * 3, 55 * 64 * 3)), Array.from(expected));
  assert.ok(s.pixels.subarray(0, 8 * 64 * 3).every((v) => v === 128));
  assert.ok(s.pixels.subarray(55 * 64 * 3).every((v) => v === 128));
});

test('the WebAssembly resize equals the JavaScript one byte for byte over random sizes, regions and factors', async () => {
  const { resizeBicubicScalar } = await import('./resample.js');
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let c = 0; c < 60; c++) {
    const sw = 1 + rand(120);
    const sh = 1 + rand(90);
    // enlarging up to 4×, reducing down to 1/12 (many taps), independently per axis
    const nw = Math.max(1, Math.round(sw * (0.08 + rand(400) / 100)));
    const nh = Math.max(1, Math.round(sh * (0.08 + rand(400) / 100)));
    const src = Uint8Array.from({ length: sw * sh * 3 }, () => rand(256));
    const left = rand(nw);
    const top = rand(nh);
    const region: [number, number, number, number] = c % 3 === 0 ? [0, 0, nw, nh] : [left, top, 1 + rand(nw - left), 1 + rand(nh - top)];
    const fast = resizeBicubic(src, sw, sh, nw, nh, region);
    const slow = resizeBicubicScalar(src, sw, sh, nw, nh, region);
    assert.equal(fast.length, slow.length);
    let differ = 0;
    for (let i = 0; i < fast.length; i++) if (fast[i] !== slow[i]) differ++;
    assert.equal(differ, 0, `${sw}x${sh} → ${nw}x${nh} region [${region}]: ${differ} bytes differ`);
  }
  // extremes: a 1-pixel source, a 416² image to 52² (32 taps) and to 1664²'s top-left 416²
  const one = new Uint8Array([10, 200, 30]);
  assert.deepEqual(resizeBicubic(one, 1, 1, 3, 2), resizeBicubicScalar(one, 1, 1, 3, 2));
  const big = Uint8Array.from({ length: 416 * 416 * 3 }, () => rand(256));
  assert.deepEqual(resizeBicubic(big, 416, 416, 52, 52), resizeBicubicScalar(big, 416, 416, 52, 52));
  assert.deepEqual(resizeBicubic(big, 416, 416, 1664, 1664, [0, 0, 416, 416]), resizeBicubicScalar(big, 416, 416, 1664, 1664, [0, 0, 416, 416]));
  // flipping inside the resize equals resizing the mirrored image
  for (const [nw, nh, region] of [[624, 624, [0, 0, 416, 416]], [291, 250, [10, 20, 200, 100]], [60, 416, [0, 0, 60, 416]]] as const) {
    const mirrored = new Uint8Array(big.length);
    for (let y = 0; y < 416; y++) for (let x = 0; x < 416; x++) mirrored.set(big.subarray((y * 416 + x) * 3, (y * 416 + x) * 3 + 3), (y * 416 + 415 - x) * 3);
    assert.deepEqual(resizeBicubic(big, 416, 416, nw, nh, [...region], 0, true), resizeBicubicScalar(mirrored, 416, 416, nw, nh, [...region]), `flip to ${nw}x${nh}`);
  }
  assert.throws(() => resizeBicubic(one, 2, 1, 3, 2), /3 bytes from row 0 are not the rows 0…0 of a 2x1 RGB image/);
  // only the rows the output reads need be there
  const [y0, y1] = sourceRows(416, 100, 40, 20);
  assert.ok(y0 > 100 && y1 < 300, `rows ${y0}…${y1}`);
  assert.deepEqual(resizeBicubic(big.subarray(y0 * 416 * 3, y1 * 416 * 3), 416, 416, 100, 100, [0, 40, 100, 20], y0), resizeBicubicScalar(big, 416, 416, 100, 100, [0, 40, 100, 20]));
  assert.throws(() => resizeBicubic(big.subarray((y0 + 1) * 416 * 3, y1 * 416 * 3), 416, 416, 100, 100, [0, 40, 100, 20], y0 + 1), /are not the rows/);
});
