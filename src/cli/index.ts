/**
 * The `focal-yolo` command line: parsing and validation only, each command then calls the library.
 * One file per command in this folder; each exports `register(program)`.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { register as registerDataset } from './dataset.js';
import { register as registerAnchors } from './anchors.js';
import { register as registerPredict } from './predict.js';
import { register as registerEval } from './eval.js';
import { register as registerFps } from './fps.js';
import { register as registerImportDarknet } from './import-darknet.js';
import { register as registerTrain } from './train.js';
import { register as registerDemo } from './demo.js';
import { register as registerCompare } from './compare.js';

/** The package version, read from package.json. */
export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version: string };
  return pkg.version;
}

/** A command module: adds one sub-command to the program. */
export type CommandRegistrar = (program: Command) => void;

/** Every command, in the order `--help` lists them. */
const registrars: CommandRegistrar[] = [registerDataset, registerAnchors, registerPredict, registerEval, registerFps, registerImportDarknet, registerTrain, registerDemo, registerCompare];

/** Builds the commander program with every command registered. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('focal-yolo')
    .description('Train, evaluate and run YOLOv4 / YOLOv4-tiny detectors with focal objectness loss on TensorFlow.js')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--backend <name>', 'TensorFlow.js backend: torch, tfjs-node, wasm or cpu (default: best available)')
    .showHelpAfterError('(run focal-yolo --help for usage)')
    .exitOverride();
  for (const register of registrars) register(program);
  return program;
}

/** A user-facing error: printed as one line, no stack trace. */
export class UsageError extends Error {}

/** Runs the CLI on `argv`; returns the exit code. Errors are printed as one line. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = err instanceof Error ? err.message : String(err);
    console.error(`focal-yolo: error: ${message}`);
    if (process.env.FOCAL_YOLO_DEBUG && err instanceof Error) console.error(err.stack);
    return 1;
  }
}
