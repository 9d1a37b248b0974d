import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readSplit } from './dataset.js';
import { createRandom } from './rng.js';
import { renderSynthImage, synthClassNames, synthesizeDataset } from './synth.js';

const tmp = mkdtempSync(join(tmpdir(), 'focal-yolo-synth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('each box is the tight box of its shape’s pixels (single-object images, every shape)', () => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const size = 64;
    const img = renderSynthImage(createRandom(seed), size, 8, 1);
    assert.equal(img.boxes.length, 1);
    seen.add(img.classes[0]);
    // shapes are saturated (S ≥ 0.7, V ≥ 0.75), backgrounds are not (S ≤ 0.25 plus grey texture)
    let x1 = size, y1 = size, x2 = 0, y2 = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 3;
        const p = img.pixels;
        if (Math.max(p[o], p[o + 1], p[o + 2]) - Math.min(p[o], p[o + 1], p[o + 2]) > 90) {
          x1 = Math.min(x1, x);
          y1 = Math.min(y1, y);
          x2 = Math.max(x2, x + 1);
          y2 = Math.max(y2, y + 1);
        }
      }
    }
    assert.deepEqual(img.boxes[0], [x1, y1, x2, y2], `seed ${seed}, class ${img.classes[0]}`);
  }
  assert.equal(seen.size, 8, 'all eight shapes drawn');
});

test('objectArea bounds the box area as a share of the image', async () => {
  const share = (area?: [number, number]) => Array.from({ length: 40 }, (_, seed) => {
    const b = renderSynthImage(createRandom(seed), 100, 4, 1, area).boxes[0];
    return ((b[2] - b[0]) * (b[3] - b[1])) / 100 ** 2;
  });
  // a box of ~33 px drawn on whole pixels: its area is within a few per cent of the drawn share
  for (const s of share([0.1, 0.12])) assert.ok(s > 0.09 && s < 0.135, `share ${s}`);
  const defaults = share();
  assert.ok(Math.min(...defaults) < 0.05 && Math.max(...defaults) > 0.14, 'the default range 0.015…0.2 is wider');
  await assert.rejects(synthesizeDataset({ out: join(tmp, 'bad'), images: 2, objectArea: [0.3, 0.2] }), /objectArea \[0.3,0.2\] must be \[min, max\]/);
});

test('synthesizeDataset is deterministic for a seed and writes a readable dataset', async () => {
  const a = await synthesizeDataset({ out: join(tmp, 'a'), images: 10, classes: 12, size: 48, seed: 3 });
  await synthesizeDataset({ out: join(tmp, 'b'), images: 10, classes: 12, size: 48, seed: 3 });
  assert.deepEqual(a.names, synthClassNames(12));
  assert.deepEqual([a.names[0], a.names[9]], ['red-circle', 'yellow-square']);
  assert.deepEqual([a.train, a.val], [8, 2]);
  const label = (root: string) => readFileSync(join(root, 'labels', 'train', 'synth_000002.txt'), 'utf8');
  assert.equal(label(join(tmp, 'a')), label(join(tmp, 'b')));
  const ds = await readSplit(a.yaml, 'train');
  assert.deepEqual(ds.issues, []);
  assert.equal(ds.samples.reduce((n, s) => n + s.boxes.length, 0) + (await readSplit(a.yaml, 'val')).samples.reduce((n, s) => n + s.boxes.length, 0), a.objects);
  assert.throws(() => synthClassNames(49), /classes 49 must be an integer in 1…48/);
});
