import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from '../../test/helpers.js';
import { readDatasetConfig } from './config.js';
import { convertDataset } from './convert.js';
import { readSplit, requireValid } from './dataset.js';
import { decodeImage, imageSize } from './image.js';
import { synthesizeDataset } from './synth.js';
import { DATASET_FORMATS, type Dataset } from './types.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'data');
const tmp = mkdtempSync(join(tmpdir(), 'focal-yolo-formats-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const byName = (ds: Dataset, name: string) => {
  const s = ds.samples.find((x) => x.image.endsWith(`/${name}`));
  assert.ok(s, `sample ${name} not found`);
  return s;
};
const messages = (ds: Dataset) => ds.issues.map((i) => `${i.severity} ${i.file.slice(FIX.length + 1)}${i.line ? `:${i.line}` : ''} ${i.message}`);

describe('dataset YAML', () => {
  test('names as list or mapping, splits absolute', () => {
    const c = readDatasetConfig(join(FIX, 'yolo', 'data.yaml'));
    assert.deepEqual(c.names, ['red', 'blue']);
    assert.equal(c.splits.train, join(FIX, 'yolo', 'images', 'train'));
    assert.deepEqual(readDatasetConfig(join(FIX, 'coco', 'data.yaml')).splits.train, {
      annotations: join(FIX, 'coco', 'instances.json'),
      images: join(FIX, 'coco', 'images'),
    });
  });
  test('bad YAML is a one-line error naming the file', () => {
    assert.throws(() => readDatasetConfig(join(FIX, 'nope.yaml')), /nope\.yaml cannot be read/);
    assert.throws(() => readDatasetConfig(join(FIX, 'voc', 'Annotations', 'a.xml')), /a\.xml: must be a mapping/);
  });
});

describe('VOC', () => {
  test('boxes, difficult flag, sizes', async () => {
    const ds = await readSplit(join(FIX, 'voc', 'data.yaml'), 'train');
    assert.deepEqual(ds.issues, []);
    const a = byName(ds, 'a.jpg');
    assert.deepEqual(a.boxes, [[4, 6, 20, 26], [26, 2, 44, 14]]);
    assert.deepEqual(a.classes, [0, 1]);
    assert.deepEqual(a.difficult, [false, false]);
    assert.deepEqual([a.width, a.height], [48, 32]);
    assert.deepEqual(byName(ds, 'b.jpg').difficult, [true]);
  });
  test('malformed XML, unknown class and missing annotation are reported per file', async () => {
    const ds = await readSplit(join(FIX, 'voc', 'data.yaml'), 'val');
    const m = messages(ds);
    assert.ok(m.some((x) => x.startsWith('error voc/Annotations/c.xml') && /malformed XML/.test(x)), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('error voc/Annotations/d.xml') && /'zebra' is not in names/.test(x)), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('error voc/Annotations/e.xml') && /missing/.test(x)), m.join('\n'));
    // d keeps its valid object; training refuses the dataset unless told to skip bad samples
    assert.deepEqual(byName(ds, 'd.jpg').classes, [0]);
    assert.throws(() => requireValid(ds), /3 error\(s\).*--skip-bad/);
    const lines: string[] = [];
    const ok = requireValid(ds, { skipBad: true, log: (l) => lines.push(l) });
    assert.deepEqual(ok.samples.map((s) => s.image.split('/').pop()), ['a.jpg', 'f.jpg']);
    assert.match(lines[0], /skipping 1 sample/);
  });
});

describe('YOLO txt', () => {
  test('normalised boxes become pixels; EXIF orientation, grayscale, alpha and WebP handled', async () => {
    const ds = await readSplit(join(FIX, 'yolo', 'data.yaml'), 'train');
    assert.deepEqual(byName(ds, 'ok.jpg').boxes, [[8, 8, 24, 24]]);
    const rot = byName(ds, 'rot.jpg');
    assert.deepEqual([rot.width, rot.height], [20, 40], 'EXIF orientation 6 swaps the displayed size');
    assert.deepEqual(rot.boxes, [[10, 0, 20, 10]]);
    // the red square really is where the box says, once decoded with the orientation applied
    const img = await decodeImage(rot.image);
    assert.deepEqual([img.width, img.height], [20, 40]);
    const at = (x: number, y: number) => Array.from(img.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    assert.ok(at(15, 5)[0] > 180 && at(15, 5)[2] < 80, `pixel in the box ${at(15, 5)}`);
    assert.ok(at(5, 5)[0] < 120, `pixel outside the box ${at(5, 5)}`);
    // decoding only some rows (what the loader does for a region) orients first: they are rows of the displayed image
    const rows = await decodeImage(rot.image, { rows: [10, 20] });
    assert.deepEqual([rows.width, rows.height], [20, 20]);
    assert.deepEqual(Array.from(rows.data), Array.from(img.data.subarray(10 * 20 * 3, 30 * 20 * 3)));
    for (const name of ['gray.png', 'alpha.png', 'web.webp']) {
      const s = byName(ds, name);
      const d = await decodeImage(s.image, { size: [16, 16] });
      assert.equal(d.data.length, 16 * 16 * 3, `${name} decodes to RGB`);
    }
    // transparent pixels are flattened onto grey 128, the opaque square stays red
    const alpha = await decodeImage(byName(ds, 'alpha.png').image);
    assert.deepEqual(Array.from(alpha.data.subarray(0, 3)), [128, 128, 128]);
    assert.deepEqual(Array.from(alpha.data.subarray((10 * 32 + 10) * 3, (10 * 32 + 10) * 3 + 3)), [255, 0, 0]);
    const gray = await decodeImage(byName(ds, 'gray.png').image);
    const g = gray.data.subarray((10 * 32 + 8) * 3, (10 * 32 + 8) * 3 + 3);
    assert.ok(g[0] === g[1] && g[1] === g[2] && g[0] > 150, `grey pixel ${g}`);
  });
  test('malformed label lines and unknown classes are reported with line numbers', async () => {
    const ds = await readSplit(join(FIX, 'yolo', 'data.yaml'), 'train');
    const m = messages(ds);
    assert.ok(m.some((x) => x.startsWith('error yolo/labels/train/bad.txt:1 ') && /5 numbers/.test(x)), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('error yolo/labels/train/bad.txt:2 ') && /class 7 is not in names/.test(x)), m.join('\n'));
    assert.equal(ds.issues.length, 2);
    const val = await readSplit(join(FIX, 'yolo', 'data.yaml'), 'val');
    assert.equal(val.samples.length, 0);
    assert.match(messages(val)[0], /^error yolo\/images\/val\/broken\.jpg .*cannot be read/);
  });
});

describe('COCO', () => {
  test('category ids mapped to the YAML names, crowd flagged', async () => {
    const ds = await readSplit(join(FIX, 'coco', 'data.yaml'), 'train');
    assert.deepEqual(ds.issues, []);
    const p = byName(ds, 'p.jpg');
    assert.deepEqual(p.boxes, [[2, 2, 14, 14], [20, 10, 46, 30]]);
    assert.deepEqual(p.classes, [0, 1]);
    assert.deepEqual(byName(ds, 'q.jpg').crowd, [true]);
  });
  test('malformed JSON is one error naming the file', async () => {
    const ds = await readSplit(join(FIX, 'coco', 'data.yaml'), 'val');
    assert.equal(ds.issues.length, 1);
    assert.match(messages(ds)[0], /^error coco\/broken\.json malformed JSON/);
  });
});

describe('reference annotation lines', () => {
  test('boxes and per-line errors', async () => {
    const ds = await readSplit(join(FIX, 'lines', 'data.yaml'), 'train');
    assert.deepEqual(ds.samples[0].boxes, [[4, 6, 20, 26], [26, 2, 44, 14]]);
    assert.deepEqual(ds.samples[0].classes, [0, 1]);
    assert.deepEqual(ds.samples[1].boxes, []);
    const m = messages(ds);
    assert.ok(m.some((x) => x.startsWith('error lines/train.txt:3 ') && /'1,1,9,x,0'/.test(x)), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('error lines/train.txt:3 ') && /class 5/.test(x)), m.join('\n'));
  });
});

describe('conversion', () => {
  test('every format round-trips every box of the synthetic set', async () => {
    const { yaml } = await synthesizeDataset({ out: join(tmp, 'src'), images: 12, classes: 3, size: 64, seed: 5 });
    const original = await readSplit(yaml, 'train');
    const originalVal = await readSplit(yaml, 'val');
    let current = yaml;
    // yolo → voc → coco → lines → yolo, each read back and compared with the original
    for (const format of ['voc', 'coco', 'lines', 'yolo'] as const) {
      const r = await convertDataset({ yaml: current, format, out: join(tmp, format) });
      current = r.yaml;
      for (const [split, ref] of [['train', original], ['val', originalVal]] as const) {
        const back = await readSplit(current, split);
        assert.deepEqual(back.issues, [], `${format} ${split}`);
        assert.equal(back.samples.length, ref.samples.length);
        ref.samples.forEach((s, i) => {
          const b = back.samples[i];
          assert.equal(b.image.split('/').pop(), s.image.split('/').pop(), `${format}: order kept`);
          assert.deepEqual(b.classes, s.classes, `${format} ${b.image}`);
          assert.equal(b.boxes.length, s.boxes.length);
          b.boxes.forEach((box, k) => box.forEach((v, j) => assert.ok(Math.abs(v - s.boxes[k][j]) < 1e-3, `${format} ${b.image} box ${k}: ${box} vs ${s.boxes[k]}`)));
        });
      }
    }
    assert.equal(DATASET_FORMATS.length, 4);
  });
  test('conversion refuses a dataset with errors', async () => {
    await assert.rejects(convertDataset({ yaml: join(FIX, 'voc', 'data.yaml'), format: 'yolo', out: join(tmp, 'bad') }), /val: 3 error\(s\).*dataset check/);
  });
  test('image sizes follow EXIF orientation', async () => {
    assert.deepEqual(await imageSize(join(FIX, 'yolo', 'images', 'train', 'rot.jpg')), { width: 20, height: 40 });
  });
});
