/**
 * `npm run bench -- torch-kernels [--repeats 5] [--threads 1,2] [--shapes 0,2,3] [--step 1]`
 *
 * GFLOP/s of the torch backend's convolution kernels (forward, Conv2DBackpropInput,
 * Conv2DBackpropFilter) at the YOLO shapes of `bench/conv.ts`, against PyTorch (bench/conv.py) with
 * the same threads in the same run, and (with --step 1) one YOLOv4-tiny training step (batch 8, 256²)
 * on torch with the kernels it dispatches.
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { initBackend } from '../src/backend/index.js';
import { fallbackKernelsUsed, setTorchThreads, torchThreads } from '../src/backend/torch.js';
import { createYolo } from '../src/models/index.js';
import { SHAPES } from './conv.js';
import { printTable, runPython, time, writeResult, type Timing } from './harness.js';

type ConvShape = (typeof SHAPES)[number];
type Op = 'forward' | 'backpropInput' | 'backpropFilter';
const OPS: Op[] = ['forward', 'backpropInput', 'backpropFilter'];

function flops([n, h, w, ci, co, k, s]: ConvShape): number {
  return 2 * n * Math.ceil(h / s) * Math.ceil(w / s) * k * k * ci * co;
}

function label([, h, w, ci, co, k, s]: ConvShape): string {
  return `${h}x${w}x${ci}->${co} ${k}x${k} s${s}`;
}

async function measureTorch(shape: ConvShape, repeats: number): Promise<Record<Op, Timing>> {
  const [n, h, w, ci, co, k, s] = shape;
  const x = tf.randomNormal([n, h, w, ci]) as tf.Tensor4D;
  const filter = tf.randomNormal([k, k, ci, co]) as tf.Tensor4D;
  const dy = tf.randomNormal([n, Math.ceil(h / s), Math.ceil(w / s), co]) as tf.Tensor4D;
  const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  const ops: Record<Op, () => tf.Tensor> = {
    forward: () => tf.conv2d(x, filter, s, 'same'),
    backpropInput: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: [n, h, w, ci] }) as tf.Tensor,
    backpropFilter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [k, k, ci, co] }) as tf.Tensor,
  };
  const row = {} as Record<Op, Timing>;
  for (const op of OPS) row[op] = await time(() => ops[op]().dispose(), { repeats, warmup: 1 });
  tf.dispose([x, filter, dy]);
  return row;
}

/** One YOLOv4-tiny training step (mean-square of the raw heads as a stand-in loss) on torch. */
async function measureStep(repeats: number): Promise<{ timing: Timing; kernels: string[] }> {
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 20, inputShape: [256, 256] });
  const images = tf.randomUniform([8, 256, 256, 3]) as tf.Tensor4D;
  const step = (): void => {
    const { value, grads } = tf.variableGrads(
      () => tf.addN(model.predictRaw(images, true).map((r) => tf.mean(tf.square(r)))) as tf.Scalar, model.trainableVariables());
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const timing = await time(step, { repeats, warmup: 1 });
  const profile = await tf.profile(step);
  images.dispose();
  return { timing, kernels: [...new Set(profile.kernelNames)].sort() };
}

interface TorchRun { torch: string; threads: number; results: ({ shape: ConvShape } & Record<Op, Timing>)[] }

function list(value: string | boolean | undefined, fallback: number[]): number[] {
  if (typeof value !== 'string') return fallback;
  const out = value.split(',').map(Number);
  if (out.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`'${value}' is not a comma-separated list of integers (e.g. 1,2).`);
  return out;
}

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const repeats = list(args.repeats, [5])[0];
  const shapeIndexes = list(args.shapes, [0, 2, 3]);
  const bad = shapeIndexes.find((i) => i >= SHAPES.length);
  if (bad !== undefined) throw new Error(`--shapes ${bad}: there are ${SHAPES.length} shapes (0-${SHAPES.length - 1}).`);
  const shapes = shapeIndexes.map((i) => SHAPES[i]);
  const threadCounts = list(args.threads, [1, 2]);
  await initBackend({ prefer: 'torch', quiet: true });
  const loadBefore = os.loadavg();

  const ours: Record<number, Record<Op, Timing>[]> = {};
  const theirs: Record<number, TorchRun | undefined> = {};
  for (const t of threadCounts) {
    setTorchThreads(t);
    console.log(`measuring the torch backend with ${torchThreads()} thread(s) …`);
    ours[t] = [];
    for (const shape of shapes) ours[t].push(await measureTorch(shape, repeats));
    console.log(`measuring PyTorch with ${t} thread(s) …`);
    theirs[t] = runPython<TorchRun>('conv.py', { shapes, repeats }, { threads: t });
  }
  let step: { threads: number; timing: Timing; kernels: string[] } | undefined;
  if (args.step === '1') {
    const t = Math.max(...threadCounts);
    setTorchThreads(t);
    console.log(`measuring a YOLOv4-tiny training step (batch 8, 256x256) with ${t} thread(s) …`);
    step = { threads: t, ...(await measureStep(Math.min(repeats, 3))) };
  }
  const loadAfter = os.loadavg();

  const rows: Record<string, string | number>[] = [];
  shapes.forEach((shape, si) => {
    for (const op of OPS) {
      const row: Record<string, string | number> = { shape: label(shape), op };
      for (const t of threadCounts) {
        const a = flops(shape) / (ours[t][si][op].medianMs * 1e6);
        const ref = theirs[t]?.results[si][op];
        const b = ref === undefined ? undefined : flops(shape) / (ref.medianMs * 1e6);
        row[`torch-backend x${t}`] = a.toFixed(1);
        row[`PyTorch x${t}`] = b === undefined ? '-' : b.toFixed(1);
        row[`ratio x${t}`] = b === undefined ? '-' : (a / b).toFixed(2);
      }
      rows.push(row);
    }
  });
  console.log(`\nGFLOP/s (median of ${repeats}); batch 8, NHWC on the torch backend, NCHW in PyTorch; ratio = ours / PyTorch`);
  printTable(rows);
  if (step !== undefined) {
    console.log(`\nYOLOv4-tiny training step, batch 8, 256x256, ${step.threads} threads: median ${step.timing.medianMs.toFixed(0)} ms` +
      ` (${step.kernels.length} kernel names, fallbacks: ${fallbackKernelsUsed().join(', ') || 'none'})`);
  }
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} (${os.cpus().length} cores, shared); OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}`);
  writeResult('torch-kernels', {
    backend: 'torch (libtorch addon) vs PyTorch',
    threads: threadCounts,
    repeats,
    shapes,
    flops: shapes.map(flops),
    torchBackend: ours,
    pytorch: theirs,
    step,
    fallbacks: fallbackKernelsUsed(),
    loadAverage: { before: loadBefore, after: loadAfter },
  });
}
