import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../test/helpers.js';
import { decodeImage } from './image.js';
import { resizeBicubic } from './resample.js';

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
