import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../test/helpers.js';
import { evaluateDetections, type DetectionImage, type GroundTruthImage } from './index.js';

const close = (a: number, b: number, what: string, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('COCO: hand-computed AP over the ten IoU thresholds and AR at 1/10/100 detections', async () => {
  // image 0: GT 10×10; its detection overlaps it with IoU 0.82 (a hit up to threshold 0.80)
  // image 1: GT 20×20; a 10×10 box inside it (IoU 0.25, a miss) scores highest, then an exact box
  const groundTruth: GroundTruthImage[] = [
    { boxes: [[0, 0, 10, 10]], classes: [0] },
    { boxes: [[0, 0, 20, 20]], classes: [0] },
  ];
  const detections: DetectionImage[] = [
    { boxes: [[0, 0, 10, 8.2]], classes: [0], scores: [0.9] },
    { boxes: [[0, 0, 20, 20], [0, 0, 10, 10]], classes: [0, 0], scores: [0.8, 0.95] },
  ];
  const r = await evaluateDetections({ groundTruth, detections, numClasses: 2, metric: 'coco' });
  const coco = r.coco;
  assert.ok(coco);
  // thresholds .50 … .80 (7): miss, hit, hit → precision envelope 2/3 at every recall point
  // thresholds .85 … .95 (3): miss, miss, hit → 1/3 up to recall .5 (51 of 101 points), 0 after
  const ap = (7 * (2 / 3) + 3 * ((51 / 101) * (1 / 3))) / 10;
  close(r.map, ap, 'AP', 1e-12);
  close(coco.ap50, 2 / 3, 'AP50');
  close(coco.ap75, 2 / 3, 'AP75');
  close(coco.apSmall, ap, 'AP small (both boxes are < 32²)');
  assert.equal(coco.apMedium, -1);
  assert.equal(coco.apLarge, -1);
  close(coco.ar100, (7 * 1 + 3 * 0.5) / 10, 'AR100');
  close(coco.ar10, (7 * 1 + 3 * 0.5) / 10, 'AR10');
  // one detection per image: image 1 keeps only its 0.95 miss
  close(coco.ar1, (7 * 0.5) / 10, 'AR1');
  assert.ok(Number.isNaN(r.perClass[1]), 'class without ground truth');
  close(r.perClass[0], ap, 'per-class AP');
  assert.equal(r.curves[0].precision.length, 101);
});

test('COCO: a detection on a crowd (difficult) region is ignored, not a false positive', async () => {
  const groundTruth: GroundTruthImage[] = [{ boxes: [[0, 0, 10, 10], [50, 50, 150, 150]], classes: [0, 0], difficult: [false, true] }];
  const detections: DetectionImage[] = [{ boxes: [[60, 60, 80, 80], [0, 0, 10, 10]], classes: [0, 0], scores: [0.9, 0.5] }];
  const r = await evaluateDetections({ groundTruth, detections, numClasses: 1, metric: 'coco' });
  close(r.map, 1, 'AP');
  assert.deepEqual(r.groundTruthCount, [1]);
});

interface CocoSample {
  imageIds: number[];
  categoryIds: number[];
  groundTruth: number[][];
  detections: number[][];
}

// Published worked example: R. Padilla et al., "A Comparative Analysis of Object Detection Metrics
// with a Companion Open-Source Toolkit", Electronics 10(3):279, 2021; its repository
// rafaelpadilla/review_object_detection_metrics, tests/test_coco_eval.py, lists pycocotools' results
// on 100 COCO val2014 images (tests/test_coco_eval/, re-encoded in test/fixtures/coco-sample.json).
const PUBLISHED = {
  ap: 0.503647, ap50: 0.696973, ap75: 0.571667, apSmall: 0.593252, apMedium: 0.557991, apLarge: 0.489363,
  ar1: 0.386813, ar10: 0.59368, ar100: 0.595353, arSmall: 0.654764, arMedium: 0.60313, arLarge: 0.553744,
};

test('COCO: agrees with pycocotools on the published 100-image COCO sample', async () => {
  const sample = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'coco-sample.json'), 'utf8')) as CocoSample;
  const n = sample.imageIds.length;
  const groundTruth: GroundTruthImage[] = Array.from({ length: n }, () => ({ boxes: [], classes: [] }));
  const detections: DetectionImage[] = Array.from({ length: n }, () => ({ boxes: [], classes: [], scores: [] }));
  for (const [img, cls, x, y, w, h] of sample.groundTruth) {
    groundTruth[img].boxes.push([x, y, x + w, y + h]);
    groundTruth[img].classes.push(cls);
  }
  for (const [img, cls, x, y, w, h, score] of sample.detections) {
    detections[img].boxes.push([x, y, x + w, y + h]);
    detections[img].classes.push(cls);
    detections[img].scores.push(score);
  }
  const r = await evaluateDetections({ groundTruth, detections, numClasses: sample.categoryIds.length, metric: 'coco' });
  for (const [key, value] of Object.entries(PUBLISHED)) {
    close((r.coco as unknown as Record<string, number>)[key], value, key, 1e-6);
  }
  close(r.map, PUBLISHED.ap, 'map', 1e-6);
});
