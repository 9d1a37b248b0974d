import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readSplit } from './dataset.js';
import { createLoader } from './loader.js';
import { ImageCache } from './image.js';
import { pipelineItems, SamplePipeline, writePixels } from './pipeline.js';
import { synthesizeDataset } from './synth.js';
import type { Batch } from './batch.js';
import type { Sample } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'focal-yolo-loader-'));
let samples: Sample[];
before(async () => {
  const { yaml } = await synthesizeDataset({ out: dir, images: 24, classes: 3, size: 96, seed: 2, valFraction: 0 });
  samples = (await readSplit(yaml, 'train')).samples;
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(workers: number, epoch: number, seed = 5, extra = {}): Promise<Batch[]> {
  const loader = createLoader(samples, { inputShape: [64, 64], batchSize: 4, workers, seed, epochs: 10, ...extra });
  try {
    const out: Batch[] = [];
    for await (const b of loader.epoch(epoch)) out.push(b);
    return out;
  } finally {
    await loader.close();
  }
}

function sameBatches(a: Batch[], b: Batch[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.images.every((v, j) => v === b[i].images[j]) && x.targets.every((t, k) => t.length === b[i].targets[k].length && t.every((v, j) => v === b[i].targets[k][j])))
  );
}

describe('DataLoader', () => {
  test('batches have the documented shape and content', async () => {
    const batches = await collect(0, 0);
    assert.equal(batches.length, 6);
    for (const b of batches) {
      assert.deepEqual(b.shape, [4, 64, 64, 3]);
      assert.equal(b.images.length, 4 * 64 * 64 * 3);
      assert.ok(b.images.every((v) => v >= 0 && v <= 1));
      assert.equal(b.targets.length, 4);
      for (const t of b.targets) {
        assert.equal(t.length % 5, 0);
        for (let i = 0; i < t.length; i += 5) {
          assert.ok(t[i + 2] > 0 && t[i + 3] > 0, 'positive width and height');
          assert.ok(t[i] >= 0 && t[i] <= 1 && t[i + 1] >= 0 && t[i + 1] <= 1, 'centre inside');
          assert.ok([0, 1, 2].includes(t[i + 4]), 'class index');
        }
      }
    }
    // every sample appears once per epoch
    assert.deepEqual(batches.flatMap((b) => b.indices).sort((x, y) => x - y), Array.from({ length: 24 }, (_, i) => i));
  });

  test('same seed → identical batches, in-process and with 2 worker threads; epochs differ', async () => {
    const inProcess = await collect(0, 1);
    const threaded = await collect(2, 1);
    assert.ok(sameBatches(inProcess, threaded), 'worker threads change nothing');
    const again = await collect(1, 1);
    assert.ok(sameBatches(inProcess, again), 'a second run repeats the first');
    const nextEpoch = await collect(0, 2);
    assert.ok(!sameBatches(inProcess, nextEpoch), 'epoch 2 differs from epoch 1');
    assert.notDeepEqual(inProcess.map((b) => b.indices), nextEpoch.map((b) => b.indices), 'the order is reshuffled');
    const otherSeed = await collect(0, 1, 6);
    assert.ok(!sameBatches(inProcess, otherSeed), 'another seed differs');
  });

  test('a loader closes cleanly mid-epoch; a closed loader refuses new epochs', async () => {
    const loader = createLoader(samples, { inputShape: [64, 64], batchSize: 4, workers: 2, seed: 1 });
    for await (const b of loader.epoch(0)) {
      assert.equal(b.shape[0], 4);
      break;
    }
    await loader.close();
    await loader.close();
    await assert.rejects(loader.epoch(0).next(), /loader is closed/);
  });

  test('a missing image fails the batch with the file name (workers and in-process)', async () => {
    const broken = [...samples.slice(0, 3), { ...samples[3], image: join(dir, 'gone.jpg'), width: undefined, height: undefined }];
    for (const workers of [0, 1]) {
      const loader = createLoader(broken, { inputShape: [64, 64], batchSize: 4, workers, seed: 1, mosaic: false });
      await assert.rejects(
        (async () => {
          for await (const _ of loader.epoch(0)) void _;
        })(),
        /gone\.jpg/,
      );
      await loader.close();
    }
  });

  test('bad options are refused at the boundary', () => {
    assert.throws(() => createLoader(samples, { inputShape: [60, 64], batchSize: 4 }), /multiples of 32/);
    assert.throws(() => createLoader(samples, { inputShape: [64, 64], batchSize: 0 }), /batchSize 0/);
    assert.throws(() => createLoader(samples, { inputShape: [64, 64], batchSize: 30 }), /fewer than batchSize 30/);
    assert.throws(() => createLoader(samples, { inputShape: [64, 64], batchSize: 4, mosaicProb: 2 }), /mosaicProb 2/);
  });
});

describe('sample selection (§3.2)', () => {
  test('mosaic ≈ mosaicProb, mixup only after mosaic, none after epochs·specialAugRatio, val letterbox only', async () => {
    const p = new SamplePipeline(pipelineItems(samples), { inputShape: [64, 64], epochs: 10, specialAugRatio: 0.7 });
    const kinds = async (epoch: number) => {
      const count: Record<string, number> = {};
      for (let k = 0; k < 120; k++) {
        const s = await p.sample(k % samples.length, epoch, k);
        count[s.kind] = (count[s.kind] ?? 0) + 1;
      }
      return count;
    };
    const early = await kinds(6); // 6 < 10·0.7
    const mosaics = (early.mosaic ?? 0) + (early['mosaic+mixup'] ?? 0);
    assert.ok(mosaics > 40 && mosaics < 80, `mosaic share ${mosaics}/120 should be near 0.5`);
    assert.ok((early['mosaic+mixup'] ?? 0) > 10 && (early['mosaic+mixup'] ?? 0) < mosaics, `mixup ${early['mosaic+mixup']} of ${mosaics} mosaics`);
    assert.deepEqual(await kinds(7), { random: 120 }, 'epoch 7 ≥ 10·0.7: ordinary augmentation only');
    const val = new SamplePipeline(pipelineItems(samples), { inputShape: [64, 64], train: false });
    assert.equal((await val.sample(0, 0, 0)).kind, 'letterbox');
  });

  test('mixup averages the mosaic with an ordinary sample and keeps both box lists (§3.7)', async () => {
    const p = new SamplePipeline(pipelineItems(samples), { inputShape: [64, 64], mosaicProb: 1, mixupProb: 1 });
    const s = await p.sample(3, 0, 0);
    assert.equal(s.kind, 'mosaic+mixup');
    assert.ok(s.mixWith);
    const out = new Float32Array(64 * 64 * 3);
    writePixels(s, out, 0);
    for (const i of [0, 100, 5000, 12287]) assert.ok(Math.abs(out[i] - (s.pixels[i] + s.mixWith![i]) / 2 / 255) < 1e-6);
    // the mosaic alone, redrawn from the same stream, has a subset of the rows
    const alone = await new SamplePipeline(pipelineItems(samples), { inputShape: [64, 64], mosaicProb: 1, mixup: false }).sample(3, 0, 0);
    assert.deepEqual(s.rows.slice(0, alone.rows.length), alone.rows);
    assert.deepEqual(Array.from(s.pixels), Array.from(alone.pixels));
  });

  test('writePixels: every byte to x/255 and a mixup to (a + b)/2/255, at an offset, tail included', () => {
    const a = Uint8Array.from({ length: 21 }, (_, i) => (i * 37) % 256);
    const b = Uint8Array.from({ length: 21 }, (_, i) => 255 - ((i * 11) % 256));
    const out = new Float32Array(30).fill(-1);
    writePixels({ pixels: a, rows: [], kind: 'random' }, out, 5);
    assert.deepEqual(Array.from(out.subarray(5, 26)), Array.from(a, (x) => Math.fround(x / 255)));
    assert.ok(out.subarray(0, 5).every((v) => v === -1) && out.subarray(26).every((v) => v === -1), 'nothing written outside');
    writePixels({ pixels: a, mixWith: b, rows: [], kind: 'mosaic+mixup' }, out, 9);
    assert.deepEqual(Array.from(out.subarray(9, 30)), Array.from(a, (x, i) => Math.fround((x + b[i]) / 2 / 255)));
  });

  test('difficult and crowd objects are left out of training targets', () => {
    const items = pipelineItems([{ image: 'x.jpg', boxes: [[0, 0, 5, 5], [1, 1, 6, 6], [2, 2, 7, 7]], classes: [0, 1, 2], difficult: [false, true, false], crowd: [false, false, true] }]);
    assert.deepEqual(items[0].rows, [[0, 0, 5, 5, 0]]);
  });

  test("cache: 'ram' gives the same batches (in-process and 2 workers) and decodes each image once", async () => {
    const plain = await collect(0, 1, 5);
    assert.ok(sameBatches(plain, await collect(0, 1, 5, { cache: 'ram' })), 'in-process');
    assert.ok(sameBatches(plain, await collect(2, 1, 5, { cache: 'ram' })), '2 workers');
    // libvips decodes a JPEG at reduced scale when a resize shrinks it 4× or more, which it cannot do
    // from memory: the pixels may differ there, the boxes never do
    const vips = await collect(0, 1, 5, { resampler: 'libvips' });
    const vipsCached = await collect(0, 1, 5, { resampler: 'libvips', cache: 'ram' });
    assert.deepEqual(vipsCached.map((b) => b.targets), vips.map((b) => b.targets));
    const pipeline = new SamplePipeline(pipelineItems(samples), { inputShape: [64, 64], seed: 5, epochs: 10, cache: 'ram' });
    for (let i = 0; i < 48; i++) await pipeline.sample(i % 24, 0, i);
    const cache = pipeline.cache!;
    assert.equal(cache.misses, cache.size, 'one decode per image');
    assert.ok(cache.size <= 24 && cache.hits > cache.misses, `${cache.hits} hits, ${cache.misses} misses`);
    assert.equal(cache.bytes, cache.size * 96 * 96 * 3);
  });

  test('an annotated size that is not the image size fails the sample with both sizes', async () => {
    const item = { ...pipelineItems(samples.slice(0, 1))[0], width: 120, height: 96 };
    const pipeline = new SamplePipeline([item], { inputShape: [64, 64], seed: 5, epochs: 10 });
    await assert.rejects(pipeline.sample(0, 0, 0), /is 96x96 but its annotation says 120x96: fix the annotation/);
  });

  test('the image cache keeps the most recently used images within its budget', async () => {
    const one = 96 * 96 * 3;
    const cache = new ImageCache(2.5 * one);
    for (const s of samples.slice(0, 5)) await cache.get(s.image);
    assert.deepEqual([cache.size, cache.bytes, cache.evictions], [2, 2 * one, 3]);
    await cache.get(samples[4].image);
    assert.equal(cache.hits, 1, 'the last image is still held');
    await cache.get(samples[0].image);
    assert.equal(cache.misses, 6, 'the first was dropped');
    // a broken file fails with its name and is not kept
    await assert.rejects(cache.get(join(dir, 'missing.jpg')), /missing\.jpg cannot be decoded/);
    assert.equal(cache.size, 2);
    assert.throws(() => createLoader(samples, { inputShape: [64, 64], batchSize: 4, cache: 'disk' as 'ram' }), /cache 'disk' must be 'none' or 'ram'/);
  });
});
