/**
 * `npm run bench -- <name> [--flags]`: runs bench/<name>.ts, whose `run(args)` prints a table and
 * writes bench/results/<name>.json. `npm run bench -- list` lists the benchmarks.
 */
import { readdirSync } from 'node:fs';
import { BENCH_DIR, parseArgs } from './harness.js';

const NOT_BENCHMARKS = new Set(['harness', 'run']);

function names(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !NOT_BENCHMARKS.has(n))
    .sort();
}

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === 'list' || !names().includes(name)) {
  if (name !== undefined && name !== 'list') console.error(`unknown benchmark '${name}'`);
  console.log(`benchmarks: ${names().join(', ')}\nusage: npm run bench -- <name> [--flags]`);
  process.exit(name === undefined || name === 'list' ? 0 : 2);
}
const mod = (await import(`./${name}.ts`)) as { run: (args: Record<string, string | boolean>) => Promise<void> };
await mod.run(parseArgs(rest));
