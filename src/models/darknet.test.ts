import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { backendsUnderTest, goldenPath, useBackend } from '../../test/helpers.js';
import { darknetFileSize, loadDarknetWeights, readDarknetHeader, saveDarknetWeights } from './darknet.js';
import { createYolo } from './yolo.js';

before(() => useBackend('cpu'));

const GOLDEN = 'yolov4-tiny-3cls-160';

interface GoldenIO {
  num_classes: number;
  input_shape: [number, number];
  input_nhwc: number[];
  outputs: { nhwc: number[] }[];
}

function goldenWeights(): Uint8Array {
  return new Uint8Array(readFileSync(goldenPath(GOLDEN, 'model.weights')));
}

test('golden: yolov4-tiny (3 classes, 160×160) with the reference Darknet weights matches the reference outputs on every backend', async () => {
  const io = JSON.parse(readFileSync(goldenPath(GOLDEN, 'io.json'), 'utf8')) as GoldenIO;
  const [h, w] = io.input_shape;
  for (const backend of await backendsUnderTest()) {
    await useBackend(backend);
    const model = createYolo({ variant: 'yolov4-tiny', numClasses: io.num_classes, inputShape: [h, w], seed: 7 });
    const info = loadDarknetWeights(model, goldenWeights());
    assert.deepEqual(info.header, { major: 0, minor: 2, revision: 5, seen: 0 });
    assert.equal(info.headsLoaded, true);
    const x = tf.tensor4d(io.input_nhwc, [1, h, w, 3]);
    const outs = model.predictRaw(x);
    assert.deepEqual(outs.map((o) => o.shape), [[1, 5, 5, 24], [1, 10, 10, 24]]);
    outs.forEach((o, l) => {
      const got = o.dataSync();
      const want = io.outputs[l].nhwc;
      let maxAbs = 0;
      let maxErr = 0;
      for (let i = 0; i < want.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(want[i]));
        maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
      }
      assert.ok(maxErr < 1e-3 * maxAbs, `${backend} level ${l}: max abs error ${maxErr} ≥ 1e-3 × ${maxAbs}`);
    });
    tf.dispose([x, ...outs]);
    model.dispose();
  }
});

test('Darknet export of the imported golden file reproduces it byte for byte', () => {
  const bytes = goldenWeights();
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 3, seed: 1 });
  const info = loadDarknetWeights(model, bytes);
  const out = saveDarknetWeights(model, info.header);
  assert.equal(out.byteLength, bytes.byteLength);
  assert.ok(Buffer.compare(Buffer.from(out), Buffer.from(bytes)) === 0, 'exported bytes differ from the golden file');
  model.dispose();
});

test('Darknet files: published sizes, 32-bit seen headers, head skipping for another class count', () => {
  const v4 = createYolo({ variant: 'yolov4', numClasses: 80, seed: 1 });
  assert.equal(darknetFileSize(v4), 257_717_640); // yolov4.weights
  v4.dispose();
  const tiny80 = createYolo({ variant: 'yolov4-tiny', numClasses: 80, seed: 2 });
  assert.equal(darknetFileSize(tiny80), 24_251_276); // yolov4-tiny.weights

  // an old-format file (version 0.1: 32-bit seen, 16-byte header) round-trips too
  const old = saveDarknetWeights(tiny80, { major: 0, minor: 1, revision: 0, seen: 1234 });
  assert.equal(old.byteLength, 24_251_276 - 4);
  assert.deepEqual(readDarknetHeader(old), { major: 0, minor: 1, revision: 0, seen: 1234 });
  const copy = createYolo({ variant: 'yolov4-tiny', numClasses: 80, seed: 3 });
  loadDarknetWeights(copy, old);
  assert.ok(Buffer.compare(Buffer.from(saveDarknetWeights(copy, { major: 0, minor: 1, revision: 0, seen: 1234 })), Buffer.from(old)) === 0);

  // an 80-class file into a 3-class model: everything but the two head output convs is loaded
  const three = createYolo({ variant: 'yolov4-tiny', numClasses: 3, seed: 4 });
  const headBefore = three.readParam('yolo_headP5.1.weight').slice();
  const info = loadDarknetWeights(three, saveDarknetWeights(tiny80));
  assert.equal(info.fileClasses, 80);
  assert.equal(info.headsLoaded, false);
  assert.deepEqual(three.readParam('yolo_headP5.1.weight'), headBefore);
  assert.deepEqual(three.readParam('yolo_headP4.0.conv.weight'), tiny80.readParam('yolo_headP4.0.conv.weight'));
  assert.deepEqual(three.readParam('upsample.upsample.0.bn.running_var'), tiny80.readParam('upsample.upsample.0.bn.running_var'));
  [tiny80, copy, three].forEach((m) => m.dispose());
});

test('Darknet files of the wrong size are refused with the expected and actual sizes', () => {
  const bytes = goldenWeights();
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 3, seed: 1 });
  assert.throws(
    () => loadDarknetWeights(model, bytes.subarray(0, bytes.byteLength - 100), { source: 'cut.weights' }),
    /cut\.weights: 23539696 bytes, expected 23539796 bytes for yolov4-tiny with 3 classes .*truncated/,
  );
  assert.throws(() => loadDarknetWeights(model, bytes.subarray(0, 10)), /too short/);
  const v4 = createYolo({ variant: 'yolov4', numClasses: 3, seed: 1 });
  assert.throws(() => loadDarknetWeights(v4, bytes), /expected \d+ bytes for yolov4 with 3 classes/);
  v4.dispose();
  model.dispose();
});
