/**
 * `focal-yolo demo [--loss bce|focal] [--size 128|96] [--minutes 5|8 | --epochs N] [--quick] [--out runs/demo]`:
 * synthetic data → YOLOv4-tiny training → evaluation → detections on held-out images → report.html.
 */
import type { Command } from 'commander';
import { formatDemoSummary, runDemo } from '../report/index.js';
import { intOption, numberOption, startBackend } from './infer-options.js';

interface DemoCliOptions {
  loss: string;
  size?: number;
  minutes?: number;
  epochs?: number;
  images?: number;
  quick?: boolean;
  out: string;
  quiet?: boolean;
}

/** Adds the `demo` command. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('no network needed: synthesise shapes, train YOLOv4-tiny with focal (or BCE) objectness, evaluate, detect, write runs/demo/ with report.html')
    .option('--loss <kind>', 'objectness loss: focal or bce', 'focal')
    .option('--size <n>', 'image and network input side, a multiple of 32 (default 128 on torch, 96 on wasm; 64 with --quick)', intOption('size', 64, 1024))
    .option('--minutes <m>', 'training time budget; the epochs are fitted to it (default 5 on torch, 8 on wasm: the whole demo stays under 10 min; --quick trains 5 epochs instead)', numberOption('minutes', 0.1, 1440))
    .option('--epochs <n>', 'train exactly N epochs instead of fitting them to --minutes', intOption('epochs', 1, 10000))
    .option('--images <n>', 'training + validation images (default 480; 48 with --quick)', intOption('images', 10, 1_000_000))
    .option('--quick', 'the CI setting: 48 images of 64×64, 5 epochs (well under 3 minutes)')
    .option('--out <dir>', 'output folder (an earlier demo there is replaced)', 'runs/demo')
    .option('--quiet', 'no progress bars')
    .action(async (o: DemoCliOptions, command: Command) => {
      if (o.loss !== 'focal' && o.loss !== 'bce') throw new Error(`--loss ${o.loss} must be focal or bce`);
      if (o.size !== undefined && o.size % 32 !== 0) throw new Error(`--size ${o.size} must be a multiple of 32 (e.g. 128)`);
      const backend = await startBackend(command);
      console.error(`demo: backend ${backend}`);
      const result = await runDemo({
        loss: o.loss, size: o.size, minutes: o.minutes, epochs: o.epochs, images: o.images, quick: o.quick ?? false, out: o.out, quiet: o.quiet ?? false,
      });
      console.log(formatDemoSummary(result));
    });
}
