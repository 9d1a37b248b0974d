import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hsvJitter, hsvToRgb, rgbToHsv } from './hsv.js';

test('RGB→HSV matches OpenCV 8-bit values (H in degrees/2)', () => {
  assert.deepEqual(rgbToHsv(255, 0, 0), [0, 255, 255]);
  assert.deepEqual(rgbToHsv(0, 255, 0), [60, 255, 255]);
  assert.deepEqual(rgbToHsv(0, 0, 255), [120, 255, 255]);
  assert.deepEqual(rgbToHsv(255, 255, 0), [30, 255, 255]);
  assert.deepEqual(rgbToHsv(128, 128, 128), [0, 0, 128]);
  // v = 200, diff = 100: S = (100·round(255·4096/200) + 2048) >> 12 = 127; H = 210°/2 = 105
  assert.deepEqual(rgbToHsv(100, 150, 200), [105, 127, 200]);
  // hue just below 360° wraps to 179/0 territory, never 180
  for (let b = 1; b < 256; b++) assert.ok(rgbToHsv(255, 0, b)[0] < 180);
});

test('HSV→RGB matches hand-computed OpenCV sectors', () => {
  assert.deepEqual(hsvToRgb(60, 255, 255), [0, 255, 0]);
  assert.deepEqual(hsvToRgb(105, 127, 200), [100, 150, 200]);
  assert.deepEqual(hsvToRgb(0, 0, 77), [77, 77, 77]);
});

test('jitter multiplies hue (quirk 8), scales and clips S and V', () => {
  const px = (gains: [number, number, number]) => {
    const d = new Uint8Array([100, 150, 200]);
    hsvJitter(d, gains);
    return Array.from(d);
  };
  // H 105 → trunc(115.5) = 115 → sector 3, f = 0.833: (p, q, v) = (100, 117, 200)
  assert.deepEqual(px([1.1, 1, 1]), [100, 117, 200]);
  // S 127 → 254: p = 200·(1 − 254/255) ≈ 0.8 → 1, q = 200·(1 − 0.498) ≈ 100
  assert.deepEqual(px([1, 2, 1]), [1, 100, 200]);
  // V 200 → 100
  assert.deepEqual(px([1, 1, 0.5]), [50, 75, 100]);
  // hue past 180 wraps (mod 180): pure red-magenta (255, 0, 128), H = 165 → 165·1.1 = 181.5 → 1
  const d = new Uint8Array([255, 0, 128]);
  hsvJitter(d, [1.1, 1, 1]);
  assert.deepEqual(rgbToHsv(d[0], d[1], d[2])[0], 1);
  // grey has S = 0: only V changes
  const g = new Uint8Array([128, 128, 128]);
  hsvJitter(g, [1.1, 1.7, 1.4]);
  assert.deepEqual(Array.from(g), [179, 179, 179]);
});

test('unit gains are OpenCV’s RGB→HSV→RGB round trip (small quantisation error only)', () => {
  const d = new Uint8Array(3 * 4096);
  for (let i = 0; i < 4096; i++) d.set([(i & 15) * 17, ((i >> 4) & 15) * 17, (i >> 8) * 17], i * 3);
  const before = d.slice();
  hsvJitter(d, [1, 1, 1]);
  let worst = 0;
  for (let i = 0; i < d.length; i++) worst = Math.max(worst, Math.abs(d[i] - before[i]));
  // H has 2° steps: half a step (1°) at full S and V moves a channel by 255/60 ≈ 4.3, plus rounding
  assert.ok(worst <= 5, `worst channel error ${worst}`);
  // the cache must not change results: the same colour twice gives the same output
  const twice = new Uint8Array([10, 200, 30, 10, 200, 30]);
  hsvJitter(twice, [0.95, 1.3, 0.8]);
  assert.deepEqual(Array.from(twice.subarray(0, 3)), Array.from(twice.subarray(3)));
});
