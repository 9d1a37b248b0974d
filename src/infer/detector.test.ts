import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { backendsUnderTest, goldenPath, useBackend } from '../../test/helpers.js';
import { saveCheckpoint, VARIANT_ANCHORS } from '../models/index.js';
import { correctBox, decodeOutputs, suppressDetections } from '../yolo/decode.js';
import { Detector, type Detection } from './detector.js';
import { openDetector } from './open.js';
import { classColor, drawDetections } from './draw.js';

const GOLDEN = 'yolov4-tiny-3cls-160';
interface GoldenIO {
  input_nhwc: number[];
  outputs: { grid: [number, number]; nhwc: number[] }[];
}
const io = JSON.parse(readFileSync(goldenPath(GOLDEN, 'io.json'), 'utf8')) as GoldenIO;
const weights = new Uint8Array(readFileSync(goldenPath(GOLDEN, 'model.weights')));
const NAMES = ['cat', 'dog', 'bird'];
const CONFIDENCE = 0.3; // random weights: nothing reaches the reference's 0.5

/** The detections the reference's own head outputs lead to (decode → threshold → class-wise NMS). */
function expectedFromReference(): Detection[] {
  const rows = decodeOutputs(
    io.outputs.map((o) => ({ data: o.nhwc, height: o.grid[0], width: o.grid[1] })),
    { inputShape: [160, 160], numClasses: 3, ...VARIANT_ANCHORS['yolov4-tiny'] },
  );
  return suppressDetections(rows, 3, { confidence: CONFIDENCE, nmsIou: 0.3 }).map((d) => ({
    box: correctBox(d.box, [160, 160], [160, 160], false),
    score: d.score,
    classId: d.classId,
    className: NAMES[d.classId],
  }));
}

/** Every detection of `a` with a score clear of the threshold has a twin in `b` (class, box within 0.05 px, score within 1e-3). */
function assertCovered(a: Detection[], b: Detection[], what: string): void {
  for (const d of a) {
    if (d.score < CONFIDENCE + 0.01) continue;
    const twin = b.find((e) => e.classId === d.classId && e.box.every((v, i) => Math.abs(v - d.box[i]) < 0.05) && Math.abs(e.score - d.score) < 1e-3);
    assert.ok(twin, `${what}: no match for ${d.className} ${d.score.toFixed(4)} at [${d.box.map((v) => v.toFixed(2)).join(', ')}]`);
  }
}

test('Detector on the golden YOLOv4-tiny weights reproduces the detections of the reference outputs, on every backend', async () => {
  const expected = expectedFromReference();
  assert.ok(expected.filter((d) => d.score >= CONFIDENCE + 0.01).length >= 5, 'the golden outputs give detections to compare');
  for (const backend of await backendsUnderTest()) {
    await useBackend(backend);
    const detector = Detector.fromDarknet(weights, { variant: 'yolov4-tiny', classNames: NAMES, inputShape: [160, 160], confidence: CONFIDENCE });
    const image = tf.tidy(() => tf.mul(tf.tensor3d(io.input_nhwc, [160, 160, 3]), 255) as tf.Tensor3D);
    const got = await detector.detect(image);
    image.dispose();
    detector.dispose();
    assertCovered(expected, got, `${backend}: reference → ours`);
    assertCovered(got, expected, `${backend}: ours → reference`);
    assert.ok(got.every((d) => d.className === NAMES[d.classId]));
  }
});

test('Detector: a file, its bytes and a batch agree; the drawn image has the box where the detection is', async () => {
  await backendsUnderTest();
  const detector = Detector.fromDarknet(weights, { variant: 'yolov4-tiny', classNames: NAMES, inputShape: [160, 160], confidence: CONFIDENCE });
  const bytes = Uint8Array.from(io.input_nhwc, (v) => Math.round(v * 255));
  const png = await sharp(Buffer.from(bytes), { raw: { width: 160, height: 160, channels: 3 } }).png().toBuffer();
  const fromBytes = await detector.detect(png);
  const fromTensor = await detector.detect(tf.tensor3d(bytes, [160, 160, 3], 'int32'));
  assert.deepEqual(fromBytes, fromTensor, 'PNG bytes and the same pixels as a tensor');
  assert.ok(fromBytes.length > 0);
  const batch = await detector.detectBatch([png, png, png], { batchSize: 2 });
  assert.equal(batch.length, 3);
  for (const b of batch) assertCovered(fromBytes, b, 'batch vs single');
  // a square image letterboxes without padding: the same detections as stretching it
  const big = await sharp(png).resize(320, 320, { kernel: 'nearest' }).png().toBuffer();
  assert.deepEqual(await detector.detect(big, { letterbox: true }), await detector.detect(big, { letterbox: false }));
  detector.dispose();

  // Drawn output: the last detection is drawn on top; its left and bottom edges carry its class colour.
  const last = fromBytes[fromBytes.length - 1];
  const drawn = await drawDetections(png, fromBytes, { numClasses: 3, inputShape: [160, 160] });
  const { data } = await sharp(drawn).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray(3 * (y * 160 + x), 3 * (y * 160 + x) + 3)];
  const left = Math.max(0, Math.floor(last.box[0]));
  const right = Math.min(159, Math.floor(last.box[2]));
  const top = Math.max(0, Math.floor(last.box[1]));
  const bottom = Math.min(159, Math.floor(last.box[3]));
  // (160 + 160) / 160 = 2-pixel lines
  assert.deepEqual(at(left, Math.floor((top + bottom) / 2)), classColor(last.classId, 3), 'left edge');
  assert.deepEqual(at(left + 1, Math.floor((top + bottom) / 2)), classColor(last.classId, 3), 'left edge, second line');
  assert.deepEqual(at(Math.floor((left + right) / 2), bottom), classColor(last.classId, 3), 'bottom edge');
});

test('Detector: bad input is a one-line error', async () => {
  await backendsUnderTest();
  const detector = Detector.fromDarknet(weights, { variant: 'yolov4-tiny', numClasses: 3, inputShape: [160, 160] });
  await assert.rejects(detector.detect('/nonexistent.jpg'), /image \/nonexistent.jpg cannot be read/);
  await assert.rejects(detector.detect(tf.zeros([4, 4]) as unknown as tf.Tensor3D), /image tensor has shape \[4, 4\]/);
  assert.throws(() => new Detector(detector.model, { classNames: ['a'] }), /1 class names for a model with 3 classes/);
  assert.throws(() => new Detector(detector.model, { scaleXY: [1.05] }), /scaleXY has 1 values for 2 output levels/);
  detector.dispose();
});

test('Detector.load / openDetector: a saved checkpoint detects like the weights it was made from', async () => {
  await backendsUnderTest();
  const dir = mkdtempSync(join(tmpdir(), 'focal-yolo-ckpt-'));
  try {
    const direct = Detector.fromDarknet(weights, { variant: 'yolov4-tiny', classNames: NAMES, inputShape: [160, 160], confidence: CONFIDENCE });
    await saveCheckpoint(direct.model, join(dir, 'best'), { classNames: NAMES });
    const image = tf.tidy(() => tf.mul(tf.tensor3d(io.input_nhwc, [160, 160, 3]), 255) as tf.Tensor3D);
    const expected = await direct.detect(image);
    const loaded = await openDetector(join(dir, 'best'), { confidence: CONFIDENCE });
    assert.deepEqual(loaded.classNames, NAMES);
    assert.deepEqual(await loaded.detect(image), expected);
    await assert.rejects(openDetector(join(dir, 'missing')), /does not exist: pass a checkpoint directory or a Darknet .weights file/);
    image.dispose();
    direct.dispose();
    loaded.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
