import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitLearningRates, learningRateAt } from './schedule.js';

const close = (a: number, b: number, rel = 1e-4) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

test('batch-size scaling matches the spec defaults (§4.2)', () => {
  const frozen = fitLearningRates({ optimizer: 'sgd', batchSize: 8, initLr: 1e-2, minLr: 1e-4 });
  close(frozen.lr, 1.25e-3);
  close(frozen.minLr, 1.25e-5);
  const unfrozen = fitLearningRates({ optimizer: 'sgd', batchSize: 4, initLr: 1e-2, minLr: 1e-4 });
  close(unfrozen.lr, 6.25e-4);
  close(unfrozen.minLr, 6.25e-6);
  // clamped: sgd lr in [5e-4, 5e-2]; adam lr in [3e-4, 1e-3]
  close(fitLearningRates({ optimizer: 'sgd', batchSize: 1, initLr: 1e-2, minLr: 1e-4 }).lr, 5e-4);
  close(fitLearningRates({ optimizer: 'adam', batchSize: 256, initLr: 1e-3, minLr: 1e-5 }).lr, 1e-3);
  close(fitLearningRates({ optimizer: 'adamw', batchSize: 16, initLr: 1e-3, minLr: 1e-5 }).lr, 3e-4);
  close(fitLearningRates({ optimizer: 'adam', batchSize: 16, initLr: 1e-3, minLr: 1e-5 }).minLr, 3e-6);
});

test('cosine schedule reproduces the worked values of §4.4, including the jump at unfreeze', () => {
  const frozen = { type: 'cos' as const, lr: 1.25e-3, minLr: 1.25e-5, totalEpochs: 300 };
  close(learningRateAt(0, frozen), 1.25e-4);
  close(learningRateAt(1, frozen), 2.5e-4);
  close(learningRateAt(2, frozen), 6.25e-4);
  close(learningRateAt(3, frozen), 1.25e-3);
  close(learningRateAt(49, frozen), 1.1705e-3);
  const unfrozen = { type: 'cos' as const, lr: 6.25e-4, minLr: 6.25e-6, totalEpochs: 300 };
  close(learningRateAt(50, unfrozen), 5.8355e-4);
  close(learningRateAt(100, unfrozen), 4.6127e-4);
  close(learningRateAt(150, unfrozen), 2.9496e-4);
  close(learningRateAt(285, unfrozen), 6.25e-6);
  close(learningRateAt(299, unfrozen), 6.25e-6);
  // per-iteration evaluation lies between the whole-epoch values during warm-up
  const mid = learningRateAt(1.5, frozen);
  assert.ok(mid > learningRateAt(1, frozen) && mid < learningRateAt(2, frozen));
});

test('step schedule: ten geometric steps from lr to minLr (§4.4)', () => {
  const s = { type: 'step' as const, lr: 6.25e-4, minLr: 6.25e-6, totalEpochs: 300 };
  close(learningRateAt(0, s), 6.25e-4);
  close(learningRateAt(29, s), 6.25e-4);
  close(learningRateAt(30, s), 3.7468e-4);
  close(learningRateAt(270, s), 6.25e-6);
  close(learningRateAt(299, s), 6.25e-6);
  assert.throws(() => learningRateAt(0, { ...s, type: 'linear' as 'step' }), /schedule 'linear' must be 'cos' or 'step'/);
});
