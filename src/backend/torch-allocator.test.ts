// The addon's caching allocator (native/allocator.cc): large blocks are reused with correct contents,
// the cache is bounded and emptied by trimAllocator(), and FOCAL_YOLO_CACHING_ALLOCATOR=0 turns it off.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index.js';
import { ADDON_PATH, loadTorchAddon, type TorchAllocatorStats } from './torch-addon.js';
import { trimTorchAllocator } from './torch.js';
import { skipWithoutTorchAddon } from '../../test/helpers.js';

const skip = skipWithoutTorchAddon(ADDON_PATH);
const MB = 2 ** 20;

/** Runs `body` (JS using `addon`) in a fresh Node process with `env`, returning the JSON it prints. */
function inFreshProcess(env: Record<string, string>, body: string): TorchAllocatorStats & Record<string, unknown> {
  const script = `const addon = require(${JSON.stringify(ADDON_PATH)}); ${body}`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as TorchAllocatorStats & Record<string, unknown>;
}

test('a freed large block is cached and reused for the next tensor of its size, with that tensor\'s values', { skip }, async () => {
  await initBackend({ prefer: 'torch', quiet: true });
  const addon = loadTorchAddon();
  assert.equal(addon.allocator().enabled, true);
  addon.trimAllocator();
  const shape = [3, 1024, 1024]; // 12 MiB, above the 1 MiB threshold
  const a = tf.fill(shape, 7);
  assert.equal(a.dataSync()[12345], 7);
  a.dispose();
  const cached = addon.allocator();
  assert.ok(cached.cachedBytes! >= 12 * MB, `cached ${cached.cachedBytes} bytes after freeing 12 MiB`);
  const b = tf.fill(shape, -2);
  const after = addon.allocator();
  assert.equal(after.hits, cached.hits! + 1, 'the second tensor came from the cache');
  const values = b.dataSync();
  assert.ok(values.every((v) => v === -2), 'the reused block holds the new tensor\'s values');
  b.dispose();
  const reported = (tf.memory() as tf.MemoryInfo & { numBytesCachedInTorch: number }).numBytesCachedInTorch;
  assert.equal(reported, addon.allocator().cachedBytes, 'tf.memory() reports the cached bytes');
  assert.ok(trimTorchAllocator() >= 12 * MB, 'trimTorchAllocator releases the cached block');
  assert.equal(addon.allocator().cachedBytes, 0);
  assert.equal(addon.allocator().cachedBlocks, 0);
});

test('the cache stays under FOCAL_YOLO_ALLOCATOR_CACHE_MB, releasing the oldest blocks first', { skip }, () => {
  // Five different sizes of 3–7 MiB freed in turn into an 8 MiB cache: only the newest fit.
  const stats = inFreshProcess({ FOCAL_YOLO_ALLOCATOR_CACHE_MB: '8' }, `
    const ids = [3, 4, 5, 6, 7].map((mb) => addon.create(new Float32Array(mb * 262144), [mb * 262144], 0));
    ids.forEach((id) => addon.free(id));
    const s = addon.allocator();
    const reuse = addon.create(new Float32Array(7 * 262144).fill(5), [7 * 262144], 0);
    const v = addon.read(reuse);
    console.log(JSON.stringify({ ...s, hitsAfter: addon.allocator().hits, allFive: v.every((x) => x === 5) }));`);
  assert.equal(stats.enabled, true);
  assert.equal(stats.limitBytes, 8 * MB);
  assert.equal(stats.cachedBytes, 7 * MB, 'the newest block (7 MiB) is kept; the older ones were released to fit it');
  assert.equal(stats.releasedBytes, (3 + 4 + 5 + 6) * MB);
  assert.equal(stats.hitsAfter, stats.hits! + 1);
  assert.equal(stats.allFive, true);
});

test('FOCAL_YOLO_CACHING_ALLOCATOR=0 leaves libtorch\'s own allocator in place', { skip }, () => {
  const stats = inFreshProcess({ FOCAL_YOLO_CACHING_ALLOCATOR: '0' }, `
    const id = addon.create(new Float32Array(1 << 22).fill(3), [1 << 22], 0);
    const ok = addon.read(id).every((x) => x === 3);
    addon.free(id);
    console.log(JSON.stringify({ ...addon.allocator(), ok, trimmed: addon.trimAllocator() }));`);
  assert.deepEqual(stats, { enabled: false, ok: true, trimmed: 0 });
});
