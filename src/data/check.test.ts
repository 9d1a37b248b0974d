import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import { REPO_ROOT, runCliInProcess } from '../../test/helpers.js';
import { checkDataset, formatCheckReport } from './check.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'data');
const tmp = mkdtempSync(join(tmpdir(), 'focal-yolo-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const cli = runCliInProcess;

describe('dataset check', () => {
  test('YOLO fixture: unreadable image, bad lines, zero area, duplicates; counts and histogram', async () => {
    const r = await checkDataset(join(FIX, 'yolo', 'data.yaml'));
    const text = formatCheckReport(r);
    const lines = text.split('\n');
    const has = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `${re} not in:\n${text}`);
    has(/^ERROR .*images\/val\/broken\.jpg: .*cannot be read/);
    has(/^ERROR .*labels\/train\/bad\.txt:1: expected 'cls cx cy w h'/);
    has(/^ERROR .*labels\/train\/bad\.txt:2: class 7 is not in names/);
    has(/^ERROR .*labels\/train\/bad\.txt: box 0 .*zero or negative area/);
    has(/^warning .*labels\/train\/bad\.txt: box 2 .*duplicates an earlier box/);
    assert.equal(r.errors, 4);
    assert.equal(r.warnings, 1);
    const train = r.splits.find((s) => s.split === 'train')!;
    assert.equal(train.images, 6);
    // ok, alpha, rot → red; gray, web → blue; bad.txt adds 3 red
    assert.deepEqual(train.perClass, [6, 2]);
    assert.equal(train.sizeHistogram.reduce((a, b) => a + b), 8);
    has(/^4 error\(s\), 1 warning\(s\)/);
  });

  test('VOC fixture: malformed XML, unknown class, missing annotation, missing image; lines: outside boxes', async () => {
    const voc = await checkDataset(join(FIX, 'voc', 'data.yaml'));
    const text = formatCheckReport(voc);
    for (const re of [/c\.xml:1: malformed XML/, /d\.xml: object 0: class 'zebra'/, /e\.xml: annotation for id 'e' is missing/, /JPEGImages\/f\.jpg: image is missing/]) {
      assert.match(text, re);
    }
    assert.equal(voc.errors, 4);
    assert.equal(voc.splits[0].ignored, 1, 'b has a difficult object');
    const lines = await checkDataset(join(FIX, 'lines', 'data.yaml'));
    const t = formatCheckReport(lines);
    assert.match(t, /nope\.jpg: image is missing/);
    assert.match(t, /box 0 \[30, 1, 30, 9\]: has zero or negative area/);
    assert.match(t, /box 1 \[60, 40, 70, 50\]: lies outside the 48x32 image/);
    assert.match(t, /warning .*box 2 \[-5, 1, 10, 9\]: extends outside/);
  });

  test('a size in the annotation that disagrees with the image is an error', async () => {
    const doc = JSON.parse(readFileSync(join(FIX, 'coco', 'instances.json'), 'utf8')) as { images: { width: number }[] };
    doc.images[0].width = 50;
    writeFileSync(join(tmp, 'sizes.json'), JSON.stringify(doc));
    writeFileSync(join(tmp, 'sizes.yaml'), `format: coco\ntrain: {annotations: sizes.json, images: ${join(FIX, 'coco', 'images')}}\nnames: [red, blue]\n`);
    const r = await checkDataset(join(tmp, 'sizes.yaml'));
    assert.equal(r.errors, 1, formatCheckReport(r));
    assert.match(formatCheckReport(r), /sizes\.json: annotation says 50x32 but the image is 48x32/);
  });

  test('CLI: exit code 1 on errors, 0 on a clean synthetic set', async () => {
    const bad = await cli('dataset', 'check', join(FIX, 'voc', 'data.yaml'));
    assert.equal(bad.code, 1);
    assert.match(bad.out, /4 error\(s\)/);
    const synth = await cli('dataset', 'synth', '--out', join(tmp, 'shapes'), '--images', '10', '--classes', '3', '--size', '64', '--seed', '1', '--format', 'voc');
    assert.equal(synth.code, 0, synth.err);
    const good = await cli('dataset', 'check', join(tmp, 'shapes', 'data.yaml'));
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /0 error\(s\), 0 warning\(s\)/);
    const conv = await cli('dataset', 'convert', join(tmp, 'shapes', 'data.yaml'), '--format', 'coco', '--out', join(tmp, 'coco'));
    assert.equal(conv.code, 0, conv.err);
    assert.ok(existsSync(join(tmp, 'coco', 'annotations', 'instances_train.json')));
    const wrong = await cli('dataset', 'synth', '--out', join(tmp, 'x'), '--classes', '99');
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /--classes 99 must be an integer in 1…48/);
  });

  test('CLI preview writes a PNG grid of augmented images', async () => {
    const out = join(tmp, 'preview.png');
    const r = await cli('dataset', 'preview', join(tmp, 'shapes', 'data.yaml'), '--out', out, '--count', '4', '--input', '64', '--seed', '3');
    assert.equal(r.code, 0, r.err);
    const meta = await sharp(readFileSync(out)).metadata();
    assert.equal(meta.format, 'png');
    // 2 x 2 tiles of 64 px with 4 px gaps
    assert.deepEqual([meta.width, meta.height], [2 * 64 + 3 * 4, 2 * 64 + 3 * 4]);
  });
});
