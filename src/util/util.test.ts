import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import { formatDuration, ProgressBar } from './progress.js';

test('atomic writes replace the file whole and leave no temporary files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fy-atomic-'));
  const path = join(dir, 'sub', 'a.json');
  await writeFileAtomic(path, '{"v":1}');
  assert.equal(readFileSync(path, 'utf8'), '{"v":1}');
  writeFileAtomicSync(path, '{"v":2}');
  assert.equal(readFileSync(path, 'utf8'), '{"v":2}');
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['a.json']);
  // a failed write (target is a directory) keeps nothing half-written behind
  writeFileSync(join(dir, 'keep.txt'), 'old');
  await assert.rejects(writeFileAtomic(join(dir, 'sub'), 'x'));
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['a.json']);
  assert.deepEqual(readdirSync(dir).sort(), ['keep.txt', 'sub']);
});

test('formatDuration', () => {
  assert.equal(formatDuration(5), '5s');
  assert.equal(formatDuration(125), '2m05s');
  assert.equal(formatDuration(3720), '1h02m');
  assert.equal(formatDuration(NaN), '?');
});

test('progress bar shows count, percentage, rate, ETA and status; plain lines when not a terminal', () => {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  const bar = new ProgressBar({ label: 'Epoch 1/3', total: 4, unit: 'batch', stream, logEverySeconds: 3600 });
  bar.tick(1, 'loss 1.000');
  bar.tick(1, 'loss 0.500');
  assert.match(bar.line(), /^Epoch 1\/3 {2}50%\|█+ +\| 2\/4 \[\d+s<\d+s, [\d.]+ (batch\/s|s\/batch)\] loss 0\.500$/);
  bar.tick(2);
  bar.done('loss 0.250');
  bar.done();
  // first tick prints (rate-limited afterwards), done prints once more: two lines
  assert.equal(chunks.length, 2);
  assert.match(chunks[1], /100%.*4\/4.*loss 0\.250\n$/);
});

test('progress bar does not print the final plain line twice when the last tick already showed it', () => {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  const bar = new ProgressBar({ label: 'Epoch 1/1', total: 1, stream, logEverySeconds: 3600 });
  bar.tick(1, 'loss 0.100');
  bar.done();
  assert.equal(chunks.length, 1);
  assert.match(chunks[0], /100%.*1\/1.*loss 0\.100\n$/);
  // a changed status at the end is still printed
  const more: string[] = [];
  const stream2 = new Writable({ write(chunk, _enc, cb) { more.push(String(chunk)); cb(); } });
  const bar2 = new ProgressBar({ label: 'Epoch 1/1', total: 1, stream: stream2, logEverySeconds: 3600 });
  bar2.tick(1, 'loss 0.100');
  bar2.done('mAP 0.5');
  assert.equal(more.length, 2);
});
