/** Atomic file writes: a temporary file in the same folder, then a rename over the target. */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * Writes `data` to `path` so that a reader sees either the old file or the whole new one, never
 * half of it (a crash or Ctrl-C mid-write leaves the old file).
 *
 * @example
 * ```ts
 * await writeFileAtomic('runs/exp/history.json', JSON.stringify(history));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Synchronous {@link writeFileAtomic}, for exit handlers. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes `files` as directory `dir`, replacing an existing one in one rename (a checkpoint is
 * either the old or the new one, never a mix).
 *
 * @example
 * ```ts
 * writeDirectoryAtomic('runs/exp/weights/last', [{ name: 'model.json', data: json }]);
 * ```
 */
export function writeDirectoryAtomic(dir: string, files: { name: string; data: string | Uint8Array }[]): void {
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const suffix = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${suffix}`);
  mkdirSync(tmp);
  try {
    for (const f of files) writeFileSync(join(tmp, f.name), f.data);
    if (existsSync(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${suffix}`);
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
