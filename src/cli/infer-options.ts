/** Option parsers and model opening shared by the predict, eval, fps and anchors commands. */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../backend/index.js';
import { openDetector, type Detector } from '../infer/index.js';
import type { YoloVariant } from '../models/index.js';

/** A commander parser for an integer in [min, max]. */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${v} must be an integer in ${min}…${max}`);
    return n;
  };
}

/** A commander parser for a number in [min, max]. */
export function numberOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} ${v} must be a number in ${min}…${max}`);
    return n;
  };
}

/** `416` or `HxW` → [height, width], multiples of 32. */
export function sizeOption(name: string): (v: string) => [number, number] {
  return (v) => {
    const parts = v.split(/[x,]/).map(Number);
    const [h, w] = parts.length === 1 ? [parts[0], parts[0]] : parts;
    if (parts.length > 2 || !Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h % 32 !== 0 || w % 32 !== 0) {
      throw new Error(`--${name} ${v} must be a multiple of 32 (e.g. 416) or HxW (e.g. 416x608)`);
    }
    return [h, w];
  };
}


/** The options {@link addModelOptions} adds. */
export interface ModelCliOptions {
  variant?: YoloVariant;
  classes?: number;
  names?: string;
  size?: [number, number];
  scaleXy?: number[];
}

/** Adds the options needed to open Darknet `.weights` (a checkpoint carries them itself). */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--variant <v>', 'for .weights: yolov4 or yolov4-tiny')
    .option('--classes <n>', 'for .weights: number of classes', intOption('classes', 1, 10000))
    .option('--names <file|list>', 'for .weights: class names, a file with one per line or a comma list')
    .option('--size <s>', 'for .weights: network input, 416 or HxW', sizeOption('size'))
    .option('--scale-xy <list>', "darknet scale_x_y per level, stride 32 first (e.g. 1.05,1.1,1.2 for yolov4.cfg weights; default 1 like the reference)", (v) => {
      const values = v.split(',').map(Number);
      if (values.some((x) => !(x >= 1 && x <= 2))) throw new Error(`--scale-xy ${v} must be comma-separated numbers in 1…2, one per output level`);
      return values;
    });
}

function readNames(spec: string): string[] {
  if (existsSync(spec)) {
    return readFileSync(spec, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  }
  return spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Starts the backend named by the global `--backend` (or the best available). */
export async function startBackend(cmd: Command): Promise<string> {
  const backend = (cmd.optsWithGlobals() as { backend?: BackendName }).backend;
  return initBackend({ prefer: backend, quiet: true });
}

/** Opens the detector for a command's `<model>` argument. */
export async function detectorFromCli(model: string, o: ModelCliOptions & { conf?: number; nms?: number; letterbox?: boolean }): Promise<Detector> {
  return openDetector(model, {
    variant: o.variant,
    numClasses: o.classes,
    classNames: o.names === undefined ? undefined : readNames(o.names),
    inputShape: o.size,
    scaleXY: o.scaleXy,
    ...(o.conf !== undefined ? { confidence: o.conf } : {}),
    ...(o.nms !== undefined ? { nmsIou: o.nms } : {}),
    ...(o.letterbox !== undefined ? { letterbox: o.letterbox } : {}),
  });
}
