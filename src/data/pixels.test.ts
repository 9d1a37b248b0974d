import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PIXELS_BYTES_PATH, PIXELS_WAT_PATH, pixelsSource } from '../../scripts/wasm-pixels.js';
import { hsvJitter, hsvJitterScalar, type HsvGains } from './hsv.js';
import { bytesToUnitFloat } from './pixels.js';

test('the committed pixel-kernel bytes are the compiled .wat source (npm run build:wasm-kernel)', async () => {
  assert.equal(readFileSync(PIXELS_BYTES_PATH, 'utf8'), await pixelsSource(readFileSync(PIXELS_WAT_PATH, 'utf8')), 'pixels-bytes.ts is stale: run npm run build:wasm-kernel');
});

test('the WebAssembly HSV jitter equals the JavaScript one on every 24-bit colour', () => {
  const all = new Uint8Array(3 << 24);
  for (let c = 0; c < 1 << 24; c++) {
    all[3 * c] = c >> 16;
    all[3 * c + 1] = (c >> 8) & 255;
    all[3 * c + 2] = c & 255;
  }
  // unit gains, hue wrap past 180, saturation and value clipping, darkening
  const cases: HsvGains[] = [
    [1, 1, 1],
    [1.1, 1.7, 1.4],
    [0.9, 0.3, 0.6],
  ];
  for (const gains of cases) {
    const fast = all.slice();
    const slow = all.slice();
    hsvJitter(fast, gains);
    hsvJitterScalar(slow, gains);
    let mismatch = -1;
    for (let i = 0; i < fast.length; i++) {
      if (fast[i] !== slow[i]) {
        mismatch = i;
        break;
      }
    }
    assert.equal(mismatch, -1, `gains ${gains}: colour #${Math.floor(mismatch / 3).toString(16)} differs`);
  }
});

test('hsvJitter handles odd sizes and refuses partial pixels', () => {
  // fewer pixels than one block of 8, whole blocks, blocks and a tail; compared with the scalar version
  for (const n of [1, 7, 8, 13, 16, 23]) {
    const d = Uint8Array.from({ length: 3 * n }, (_, i) => (i * 37) % 256);
    const e = d.slice();
    hsvJitter(d, [1.05, 0.8, 1.2]);
    hsvJitterScalar(e, [1.05, 0.8, 1.2]);
    assert.deepEqual(d, e, `${n} pixels`);
  }
  assert.throws(() => hsvJitter(new Uint8Array(4), [1, 1, 1]), /not whole RGB pixels/);
});

test('byte → float conversion is x / 255 correctly rounded, and the mixup average (a + b) / 510', () => {
  for (const n of [1, 15, 16, 17, 48, 256 * 3 + 5]) {
    const a = Uint8Array.from({ length: n }, (_, i) => (i * 101) % 256);
    const b = Uint8Array.from({ length: n }, (_, i) => 255 - ((i * 7) % 256));
    const out = new Float32Array(n + 3).fill(-1);
    bytesToUnitFloat(a, undefined, out, 2);
    assert.equal(out[0], -1);
    assert.equal(out[1], -1);
    assert.equal(out[n + 2], -1, 'writes past the end');
    for (let i = 0; i < n; i++) assert.equal(out[i + 2], Math.fround(a[i] / 255), `n ${n}, byte ${a[i]}`);
    bytesToUnitFloat(a, b, out, 2);
    for (let i = 0; i < n; i++) assert.equal(out[i + 2], Math.fround((a[i] + b[i]) * 0.5 / 255), `n ${n}, bytes ${a[i]} + ${b[i]}`);
  }
  // every byte value and every sum
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);
  const out = new Float32Array(256);
  bytesToUnitFloat(every, undefined, out, 0);
  for (let x = 0; x < 256; x++) assert.equal(out[x], Math.fround(x / 255));
  for (let shift = 0; shift < 256; shift += 1) {
    const other = Uint8Array.from({ length: 256 }, (_, i) => (i + shift) % 256);
    bytesToUnitFloat(every, other, out, 0);
    for (let x = 0; x < 256; x++) assert.equal(out[x], Math.fround((x + other[x]) * 0.5 / 255));
  }
  assert.throws(() => bytesToUnitFloat(new Uint8Array(3), new Uint8Array(6), out, 0), /differ in size/);
});
