import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers.js';

const BIN = join(REPO_ROOT, 'bin', 'focal-yolo.js');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
}

test('focal-yolo --version prints the package version', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = cli('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('focal-yolo --help describes the tool', () => {
  const r = cli('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: focal-yolo/);
  assert.match(r.stdout, /--backend <name>/);
});

test('a bad flag is a one-line error with a hint, not a stack trace', () => {
  const r = cli('--no-such-flag');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});
