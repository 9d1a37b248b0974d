import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertAllClose, backendsUnderTest } from '../../test/helpers.js';
import { loadCheckpoint, saveCheckpoint, SIDECAR_FILE } from './checkpoint.js';
import { createYolo, type CreateYoloOptions } from './yolo.js';

const root = mkdtempSync(join(tmpdir(), 'focal-yolo-ckpt-'));
// the main backend (fastest available) for everything not checked per backend
before(async () => {
  await backendsUnderTest();
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Reads a checkpoint's model.json and shards the way tfjs's browser loader does (paths relative to model.json). */
function directoryHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const manifest = json.weightsManifest[0];
      const data = Buffer.concat(manifest.paths.map((p) => readFileSync(join(dir, p))));
      return {
        modelTopology: json.modelTopology,
        weightSpecs: manifest.weights,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      };
    },
  };
}

/** BN running statistics away from 0/1 so that a loader mixing them up would fail. */
function perturbBatchNorm(model: ReturnType<typeof createYolo>): void {
  for (const p of model.params) {
    if (p.role === 'movingMean' || p.role === 'movingVariance') {
      const v = model.readParam(p.key).map((_, i) => (p.role === 'movingMean' ? 0.1 * Math.sin(i) : 1 + 0.5 * Math.cos(i)));
      model.writeParam(p.key, v);
    }
  }
}

const cases: CreateYoloOptions[] = [
  { variant: 'yolov4-tiny', numClasses: 3, inputShape: [64, 96] },
  { variant: 'yolov4-tiny', numClasses: 2, inputShape: [64, 64], phi: 1 },
  { variant: 'yolov4-tiny', numClasses: 2, inputShape: [64, 64], phi: 2 },
  { variant: 'yolov4-tiny', numClasses: 2, inputShape: [64, 64], phi: 3 },
  { variant: 'yolov4', numClasses: 1, inputShape: [64, 64] },
];

for (const opts of cases) {
  test(`checkpoint of ${opts.variant} phi ${opts.phi ?? 0}: plain tfjs loadLayersModel and loadCheckpoint reproduce predictRaw`, async () => {
    const model = createYolo({ ...opts, seed: 3, priorObjectnessBias: 0.01 });
    perturbBatchNorm(model);
    const dir = join(root, `${opts.variant}-${opts.phi ?? 0}`);
    await saveCheckpoint(model, dir, { training: { epoch: 4 } });
    const [h, w] = opts.inputShape as [number, number];
    const x = tf.randomUniform([2, h, w, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const want = model.predictRaw(x);

    const layers = await tfl.loadLayersModel(directoryHandler(dir));
    const got = layers.predict(x) as tf.Tensor[];
    assert.equal(got.length, want.length);
    got.forEach((g, l) => {
      assert.deepEqual(g.shape, want[l].shape);
      assertAllClose(g.dataSync(), want[l].dataSync(), { rtol: 1e-3, atol: 1e-4, what: `LayersModel level ${l}` });
    });

    const { model: loaded, meta } = await loadCheckpoint(dir, { variant: opts.variant, numClasses: opts.numClasses });
    assert.deepEqual(meta.training, { epoch: 4 });
    assert.deepEqual(meta.inputShape, opts.inputShape);
    for (const p of model.params) assert.deepEqual(loaded.readParam(p.key), model.readParam(p.key), p.key);
    tf.dispose([x, ...want, ...got]);
    layers.dispose();
    loaded.dispose();
    model.dispose();
  });
}

test('checkpoints are replaced atomically and checked on load', async () => {
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 2, inputShape: [64, 64], seed: 1 });
  const dir = join(root, 'checks');
  await saveCheckpoint(model, dir, { classNames: ['cat', 'dog'] });
  await saveCheckpoint(model, dir, { classNames: ['cat', 'dog'], training: { epoch: 2 } }); // replaces
  assert.deepEqual(readdirSync(dir).sort(), ['focal-yolo.json', 'group1-shard1of6.bin', 'group1-shard2of6.bin', 'group1-shard3of6.bin',
    'group1-shard4of6.bin', 'group1-shard5of6.bin', 'group1-shard6of6.bin', 'model.json']);
  assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-') || f.includes('.old-')), []);
  await assert.rejects(loadCheckpoint(dir, { numClasses: 20 }), /holds yolov4-tiny with 2 classes, but yolov4-tiny with 20 classes was asked for/);
  await assert.rejects(loadCheckpoint(dir, { variant: 'yolov4' }), /holds yolov4-tiny with 2 classes, but yolov4 with 2 classes/);
  await assert.rejects(saveCheckpoint(model, dir, { classNames: ['cat'] }), /1 class names for a model with 2 classes/);
  writeFileSync(join(root, 'stray.txt'), 'x');
  await assert.rejects(saveCheckpoint(model, root), /holds other files/);
  const shard = join(dir, 'group1-shard6of6.bin');
  writeFileSync(shard, readFileSync(shard).subarray(0, 100));
  await assert.rejects(loadCheckpoint(dir), /the manifest needs \d+; the checkpoint is truncated/);
  rmSync(join(dir, SIDECAR_FILE));
  await assert.rejects(loadCheckpoint(dir), /focal-yolo\.json is missing/);
  assert.ok(existsSync(join(dir, 'model.json')));
  model.dispose();
});
