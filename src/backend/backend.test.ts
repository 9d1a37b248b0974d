import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index.js';

test('initBackend picks a backend that works, and an explicit request wins', async () => {
  const name = await initBackend({ quiet: true });
  assert.ok(['torch', 'tfjs-node', 'wasm', 'cpu'].includes(name));
  assert.equal(await initBackend({ prefer: 'cpu', quiet: true }), 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(await initBackend({ prefer: 'wasm', quiet: true }), 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
  assert.deepEqual(Array.from(sum.dataSync()), [4, 6]);
});

test('initBackend follows FOCAL_YOLO_BACKEND and rejects unknown names', async () => {
  const saved = process.env.FOCAL_YOLO_BACKEND;
  try {
    process.env.FOCAL_YOLO_BACKEND = 'cpu';
    assert.equal(await initBackend({ quiet: true }), 'cpu');
    process.env.FOCAL_YOLO_BACKEND = 'gpu';
    await assert.rejects(initBackend({ quiet: true }), /FOCAL_YOLO_BACKEND='gpu' is not a backend; use one of torch, tfjs-node, wasm, cpu/);
  } finally {
    if (saved === undefined) delete process.env.FOCAL_YOLO_BACKEND;
    else process.env.FOCAL_YOLO_BACKEND = saved;
  }
  // @ts-expect-error: a name that is not a backend, as a JavaScript caller could pass
  await assert.rejects(initBackend({ prefer: 'webgl', quiet: true }), /prefer='webgl' is not a backend/);
});

test('an unavailable backend asked for by name is a clear error, not a silent fallback', async () => {
  await assert.rejects(initBackend({ prefer: 'tfjs-node', quiet: true }), /backend 'tfjs-node' could not start/);
});
