/**
 * Benchmark harness: timing with repeats, a machine description, a printed table, a JSON result in
 * bench/results/<name>.json, and PyTorch (Debian's python3-torch) measured in the same run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/** Median/min/max of a timing series in milliseconds. */
export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  repeats: number;
}

/** Summarises raw timings (ms). */
export function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { medianMs: median, minMs: s[0], maxMs: s[s.length - 1], repeats: s.length };
}

/** Times `fn` (awaited) `repeats` times after `warmup` untimed calls. */
export async function time(fn: () => unknown, { repeats = 5, warmup = 1 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** The machine and revision a result was measured on. */
export function machineInfo(): Record<string, unknown> {
  let revision = 'unknown';
  try {
    revision = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_DIR, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: BENCH_DIR, encoding: 'utf8' }).trim();
    if (dirty) revision += '+dirty';
  } catch {
    // not a git checkout
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    revision,
    date: new Date().toISOString(),
  };
}

/** Prints rows as an aligned text table. */
export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number | undefined) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : (v ?? '');
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i])).join('  ');
  console.log(line(cols));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

/** Writes bench/results/<name>.json atomically with the machine description. */
export function writeResult(name: string, data: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ benchmark: name, machine: machineInfo(), ...data }, null, 2) + '\n');
  renameSync(tmp, path);
  console.log(`\nwrote ${path}`);
  return path;
}

/** The Python that has PyTorch: Debian's python3-torch lives under /usr/bin/python3. */
export function torchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * Runs a Python benchmark script from bench/ (it prints one JSON object on its last stdout line)
 * with `args` as JSON in argv[1]. Returns undefined when PyTorch is not installed.
 */
export function runPython<T>(script: string, args: unknown, { threads }: { threads?: number } = {}): T | undefined {
  const py = torchPython();
  if (py === undefined) {
    console.log('(PyTorch not found: apt-get install -y python3-torch to compare against it)');
    return undefined;
  }
  const env = { ...process.env };
  if (threads !== undefined) {
    env.OMP_NUM_THREADS = String(threads);
    env.MKL_NUM_THREADS = String(threads);
  }
  const r = spawnSync(py, [join(BENCH_DIR, script), JSON.stringify(args)], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** Parses `--key value` / `--flag` pairs after the benchmark name. */
export function parseArgs(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[key] = next;
      i++;
    } else out[key] = true;
  }
  return out;
}

/** Ensures a directory for a file exists. */
export function ensureDirFor(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}
