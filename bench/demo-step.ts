/**
 * `npm run bench -- demo-step`: the seconds of one demo training step (YOLOv4-tiny, 4 classes, focal
 * YOLO loss, forward + gradients, batch 8) per input size on one backend, wall and CPU time (median of
 * 5 after a warm-up), and how many steps and epochs the demo's default budget holds at that pace.
 * The demo (src/report/demo.ts) sizes its run from the same measurement.
 *
 * Flags: --backend wasm --threads 1 --sizes 96,128 --batch 8 --repeats 5 --minutes (default: the demo's for the backend)
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/backend/index.js';
import { createYolo, VARIANT_ANCHORS } from '../src/models/index.js';
import { defaultDemoMinutes } from '../src/report/index.js';
import { YoloLoss } from '../src/yolo/index.js';
import { printTable, writeResult } from './harness.js';

export async function run(args: Record<string, string | boolean>): Promise<void> {
  const str = (key: string, fallback: string) => (typeof args[key] === 'string' ? (args[key] as string) : fallback);
  const backend = await initBackend({ prefer: str('backend', 'wasm') as BackendName, threads: Number(str('threads', '1')) });
  const batch = Number(str('batch', '8'));
  const repeats = Number(str('repeats', '5'));
  const minutes = Number(str('minutes', String(defaultDemoMinutes(backend))));
  const rows: Record<string, string | number>[] = [];
  for (const size of str('sizes', '96,128').split(',').map(Number)) {
    const { anchors, anchorsMask } = VARIANT_ANCHORS['yolov4-tiny'];
    const model = createYolo({ variant: 'yolov4-tiny', numClasses: 4, inputShape: [size, size] });
    const loss = new YoloLoss({ inputShape: [size, size], numClasses: 4, anchors, anchorsMask, focalLoss: true });
    const targets = Array.from({ length: batch }, () => Float32Array.from([0.5, 0.5, 0.3, 0.3, 0]));
    const images = tf.randomUniform([batch, size, size, 3]) as tf.Tensor4D;
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const { value, grads } = tf.variableGrads(() => loss.total(model.predictRaw(images, true), targets).loss, model.trainableVariables());
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      const c = process.cpuUsage(c0);
      if (i > 0) {
        wall.push((performance.now() - t0) / 1000);
        cpu.push((c.user + c.system) / 1e6);
      }
    }
    images.dispose();
    model.dispose();
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const step = median(wall);
    // the demo's plan: a step per batch plus ~25 % for validation, loading and checkpoints
    const steps = Math.floor((minutes * 60) / (1.25 * step));
    rows.push({ backend, size, batch, 'wall s': step, 'cpu s': median(cpu), 'min wall s': Math.min(...wall), [`steps in ${minutes} min`]: steps });
  }
  printTable(rows);
  writeResult('demo-step', { rows, minutes });
}
