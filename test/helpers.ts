/** Shared test helpers: backend selection and numeric comparison. */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends, initBackend, type BackendName } from '../src/backend/index.js';

/** The repository root. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `../shared/golden` beside the checkout (CI lays shared/ there too). */
export const GOLDEN_DIR = join(REPO_ROOT, '..', 'shared', 'golden');

/** Fails loudly (never skips) when the golden data is missing. */
export function goldenPath(...parts: string[]): string {
  const path = join(GOLDEN_DIR, ...parts);
  assert.ok(existsSync(path), `golden file ${path} is missing: shared/ must sit beside the checkout`);
  return path;
}

let cached: BackendName[] | undefined;

/**
 * The backends the suite runs on: `FOCAL_YOLO_BACKEND` alone when set, else every backend that starts.
 * The main backend (`FOCAL_YOLO_BACKEND` or the best available) is active afterwards.
 */
export async function backendsUnderTest(): Promise<BackendName[]> {
  if (cached === undefined) {
    const env = process.env.FOCAL_YOLO_BACKEND;
    cached = env ? [env as BackendName] : (await availableBackends()).filter((b) => b !== 'tfjs-node');
  }
  await initBackend({ prefer: cached[0], quiet: true });
  return cached;
}

/** Activates `name` for the following tensor ops. */
export async function useBackend(name: BackendName): Promise<void> {
  await initBackend({ prefer: name, quiet: true });
}

/** Largest |a-b| / (atol + rtol·|b|) over all elements must be ≤ 1. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, what = 'values' }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs expected ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (!Number.isFinite(a) && a !== b) {
      assert.fail(`${what}[${i}] = ${a}, expected ${b}`);
    }
    const r = Math.abs(a - b) / (atol + rtol * Math.abs(b));
    if (r > worst || Number.isNaN(r)) {
      worst = r;
      at = i;
    }
  }
  assert.ok(worst <= 1, `${what}[${at}] = ${actual[at]}, expected ${expected[at]} (rtol ${rtol}, atol ${atol})`);
}

/** Reads a tensor's values as a plain Float32Array (synchronously). */
export function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as ArrayLike<number>);
}

/**
 * The `skip` option for tests that need the torch addon: a reason when it is not built, unless
 * `FOCAL_YOLO_REQUIRE_TORCH=1` (CI sets it), in which case the tests run and fail loudly.
 */
export function skipWithoutTorchAddon(addonPath: string): false | string {
  if (existsSync(addonPath) || process.env.FOCAL_YOLO_REQUIRE_TORCH === '1') return false;
  return `addon not built (${addonPath}); run npm run build:native`;
}

/**
 * Runs the `focal-yolo` CLI in this process with `args`, capturing what it prints; the exit code
 * is main()'s, or `process.exitCode` when a command sets that instead.
 */
export async function runCliInProcess(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import('../src/cli/index.js');
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  const before = process.exitCode;
  try {
    const code = await main(['node', 'focal-yolo', ...args]);
    return { code: code || Number(process.exitCode ?? 0), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
    process.exitCode = before;
  }
}
