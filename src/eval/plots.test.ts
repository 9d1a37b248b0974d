import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { evaluateDetectionsSync, writePrCurves } from './index.js';

test('writePrCurves: one PNG per evaluated class plus a summary, readable images of the chart size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'focal-yolo-pr-'));
  try {
    const r = evaluateDetectionsSync({
      groundTruth: [{ boxes: [[0, 0, 10, 10], [20, 20, 40, 40]], classes: [0, 1] }],
      detections: [{ boxes: [[0, 0, 10, 9], [60, 60, 70, 70]], classes: [0, 0], scores: [0.9, 0.7] }],
      numClasses: 3,
      metric: 'voc',
    });
    const written = await writePrCurves(r, ['cat', 'dog', 'no/gt'], dir);
    assert.deepEqual(written, [join(dir, 'pr_cat.png'), join(dir, 'pr_dog.png'), join(dir, 'pr_curves.png')]);
    for (const path of written) {
      const meta = await sharp(path).metadata();
      assert.equal(meta.format, 'png');
      assert.ok((meta.width ?? 0) > 300 && (meta.height ?? 0) > 250, `${path}: ${meta.width}×${meta.height}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
