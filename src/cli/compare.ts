/** `focal-yolo compare runs/a runs/b [--out compare.html]`: the report of two runs side by side (e.g. BCE vs focal). */
import type { Command } from 'commander';
import { writeComparison } from '../report/index.js';
import { startBackend } from './infer-options.js';

/** Adds the `compare` command. */
export function register(program: Command): void {
  program
    .command('compare')
    .description('write one HTML report with two or more training runs side by side (loss parts, focal view, mAP, per-class AP, images)')
    .argument('<runs...>', 'training run folders (each with history.json), e.g. runs/train/bce runs/train/focal')
    .option('--out <file>', 'the HTML file to write', 'compare.html')
    .option('--no-evaluate', 'skip re-evaluating the weights (curves and focal view only, no per-class AP or images)')
    .action(async (runs: string[], o: { out: string; evaluate: boolean }, command: Command) => {
      if (runs.length < 2) throw new Error(`compare: ${runs.length} run folder given; pass two or more (e.g. runs/train/bce runs/train/focal)`);
      if (o.evaluate) await startBackend(command);
      const path = await writeComparison(runs, o.out, { evaluate: o.evaluate });
      console.log(`comparison of ${runs.length} runs: ${path}`);
    });
}
