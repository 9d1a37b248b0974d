/**
 * `focal-yolo train --config train.yaml [--option value …]` and `--resume [run]`: parsing only, then
 * `train()` / `resumeTraining()`. Every training option is a flag in kebab case (`--focal-loss`,
 * `--input-shape 320`). Ctrl-C or SIGTERM stops after the current step, saves, and exits 130.
 */
import type { Command } from 'commander';
import { defaultTrainConfig, loadTrainConfig, resumeTraining, train, TRAIN_OPTION_KINDS, TRAIN_OPTION_NAMES, type TrainConfig, type TrainResult } from '../train/index.js';
import { reportCallback } from '../report/index.js';
import { startBackend } from './infer-options.js';

/** `focalLoss` → `focal-loss`. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The option values given on the command line, by option name (commander camel-cases the flags back). */
function overridesFrom(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of TRAIN_OPTION_NAMES) if (o[name] !== undefined) out[name] = o[name];
  return out;
}

/** Stops the run on the first Ctrl-C / SIGTERM (after the current step); a second one exits at once. */
function interruptible(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    console.error(`\n${sig}: stopping after the current step and saving (press Ctrl-C again to quit at once)`);
    controller.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Adds the `train` command. */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train YOLOv4 / YOLOv4-tiny with the reference recipe (BCE or focal objectness); writes runs/train/<name>')
    .option('--config <file>', 'training options as YAML (flags override it)')
    .option('--resume [run]', 'continue an interrupted run from its weights/last (default: <save-dir>/<name>)');
  const defaults = defaultTrainConfig('yolov4-tiny');
  for (const name of TRAIN_OPTION_NAMES) {
    const kind = TRAIN_OPTION_KINDS[name];
    const shown = JSON.stringify(defaults[name as keyof TrainConfig]);
    const values = Array.isArray(kind) ? ` (${kind.join(' | ')})` : '';
    const flag = kind === 'boolean' ? `--${kebab(name)} [bool]` : `--${kebab(name)} <value>`;
    cmd.option(flag, `${name}${values}; tiny default ${shown}`);
  }
  cmd.action(async (o: Record<string, unknown> & { config?: string; resume?: string | boolean }, command: Command) => {
    const overrides = overridesFrom(o);
    await startBackend(command);
    const { signal, release } = interruptible();
    let result: TrainResult;
    try {
      if (o.resume !== undefined) {
        const where = typeof o.resume === 'string' ? o.resume : runFolder(o.config, overrides);
        const typed = Object.keys(overrides).length > 0 ? loadTrainConfig({ overrides: { data: 'unused', ...overrides } }) : undefined;
        const given = typed ? Object.fromEntries(Object.keys(overrides).map((k) => [k, typed[k as keyof TrainConfig]])) : {};
        result = await resumeTraining(where, { signal, overrides: given, callbacks: [reportCallback()] });
      } else {
        result = await train(loadTrainConfig({ file: o.config, overrides }), { signal, callbacks: [reportCallback()] });
      }
    } finally {
      release();
    }
    const best = result.best ? `, best mAP@0.5 ${result.best.map.toFixed(4)} at epoch ${result.best.epoch}` : '';
    console.log(`${result.status}: ${result.epochsDone} epochs${best}; results in ${result.runDir}`);
    // 130 = stopped by a signal (the shell's convention); main() would report 0
    if (result.status === 'interrupted') process.exit(130);
  });
}

/** `<saveDir>/<name>` of the options, for `--resume` without a path. */
function runFolder(file: string | undefined, overrides: Record<string, unknown>): string {
  const c = loadTrainConfig({ file, overrides: { data: 'unused', ...overrides } });
  return `${c.saveDir}/${c.name}`;
}
