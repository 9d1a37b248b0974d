/**
 * The reference's annotation lines (`2007_train.txt`): one image per line,
 * `path x1,y1,x2,y2,cls x1,y1,x2,y2,cls …`. Relative paths are resolved against the file's folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Dataset, DatasetIssue, Sample } from '../types.js';

/**
 * Reads an annotation-lines file.
 *
 * @example
 * const ds = readLines('2007_train.txt', vocNames);
 */
export function readLines(file: string, names: string[]): Dataset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`annotation lines file ${file} cannot be read: check the path`);
  }
  const issues: DatasetIssue[] = [];
  const samples: Sample[] = [];
  text.split(/\r?\n/).forEach((raw, k) => {
    const line = raw.trim();
    if (line === '') return;
    const [path, ...tokens] = line.split(/\s+/);
    const sample: Sample = { image: resolve(dirname(file), path), boxes: [], classes: [], source: file };
    for (const token of tokens) {
      const parts = token.split(',');
      const nums = parts.map(Number);
      if (parts.length !== 5 || nums.some((v) => !Number.isFinite(v) || parts.some((p) => p === ''))) {
        issues.push({ severity: 'error', file, line: k + 1, image: sample.image, message: `box '${token}' is not x1,y1,x2,y2,cls (paths with spaces are not allowed)` });
        continue;
      }
      const cls = nums[4];
      if (!Number.isInteger(cls) || cls < 0 || cls >= names.length) {
        issues.push({ severity: 'error', file, line: k + 1, image: sample.image, message: `class ${parts[4]} in '${token}' is not in names (0…${names.length - 1})` });
        continue;
      }
      sample.boxes.push(nums.slice(0, 4));
      sample.classes.push(cls);
    }
    samples.push(sample);
  });
  return { format: 'lines', names, samples, issues };
}
