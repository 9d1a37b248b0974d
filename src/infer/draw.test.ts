import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { classColor, drawDetections } from './draw.js';

async function whiteImage(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
}

async function pixels(png: Buffer): Promise<{ at: (x: number, y: number) => number[]; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { at: (x, y) => [...data.subarray(3 * (y * info.width + x), 3 * (y * info.width + x) + 3)], width: info.width, height: info.height };
}

test('classColor: the reference HSV wheel, channels truncated', () => {
  assert.deepEqual(classColor(0, 3), [255, 0, 0]);
  assert.deepEqual(classColor(1, 3), [0, 255, 0]);
  assert.deepEqual(classColor(2, 3), [0, 0, 255]);
  assert.deepEqual(classColor(1, 4), [127, 255, 0]); // h = 0.25: i = 1, f = 0.5 → (q, v, p) = (0.5, 1, 0)
});

test('drawDetections: box outline pixels at the floored corners, inside and outside untouched', async () => {
  const png = await drawDetections(await whiteImage(200, 100), [{ box: [20.7, 30.2, 120.9, 80.5], score: 0.91, classId: 1, className: 'dog' }], { numClasses: 3 });
  const img = await pixels(png);
  assert.equal(img.width, 200);
  const green = [0, 255, 0];
  for (const y of [35, 55, 80]) {
    assert.deepEqual(img.at(20, y), green, `left edge x=20, y=${y}`);
    assert.deepEqual(img.at(120, y), green, `right edge x=120, y=${y}`);
  }
  for (const x of [60, 100, 119]) assert.deepEqual(img.at(x, 80), green, `bottom edge y=80, x=${x}`);
  assert.deepEqual(img.at(119, 30), green, 'top edge y=30');
  // one-pixel lines: (200 + 100) / 416 < 1
  assert.deepEqual(img.at(21, 55), [255, 255, 255], 'inside the box');
  assert.deepEqual(img.at(70, 55), [255, 255, 255], 'centre of the box');
  assert.deepEqual(img.at(121, 55), [255, 255, 255], 'right of the box');
  assert.deepEqual(img.at(70, 81), [255, 255, 255], 'below the box');
  // the label box sits above the rectangle, in the class colour, with dark text somewhere in it
  assert.deepEqual(img.at(21, 29), green, 'label background above the top-left corner');
  let dark = 0;
  for (let y = 18; y < 30; y++) for (let x = 20; x < 90; x++) if (img.at(x, y)[1] < 128) dark++;
  assert.ok(dark > 10, `label text pixels: ${dark}`);
});

test('drawDetections: thickness grows with the image, labels move inside at the top edge', async () => {
  // (832 + 832) / 416 = 4 nested rectangles
  const png = await drawDetections(await whiteImage(832, 832), [{ box: [0, 0, 400, 400], score: 0.5, classId: 0, className: 'cat' }], { numClasses: 2 });
  const img = await pixels(png);
  const red = [255, 0, 0];
  for (const i of [0, 1, 2, 3]) assert.deepEqual(img.at(400 - i, 200), red, `right edge, inset ${i}`);
  assert.deepEqual(img.at(400 - 4, 200), [255, 255, 255], 'inset 4 is outside the line');
  // no room above: the label box starts one pixel below the top, inside the rectangle
  assert.deepEqual(img.at(6, 2), red, 'label background inside');
});

test('drawDetections: an unreadable image is a one-line error naming it', async () => {
  await assert.rejects(drawDetections('/nonexistent/x.png', [], { numClasses: 1 }), /image \/nonexistent\/x.png cannot be decoded/);
});
