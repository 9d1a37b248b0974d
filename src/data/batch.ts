/** Assembling batches from the sample pipeline: shared by the in-process path and the worker threads. */
import { encodeTargets } from './augment.js';
import { writePixels, type SamplePipeline } from './pipeline.js';

/** A training batch: images NHWC float32 in 0..1 and per-image targets `[n, 5]` rows `cx, cy, w, h, cls` (0..1). */
export interface Batch {
  /** `[B, H, W, 3]` */
  shape: [number, number, number, number];
  images: Float32Array;
  targets: Float32Array[];
  /** dataset indices of the images (for debugging and previews) */
  indices: number[];
}

/** The work for one batch: dataset indices and their positions within the epoch. */
export interface BatchTask {
  epoch: number;
  indices: number[];
  positions: number[];
}

/** Builds one batch; samples are decoded concurrently (sharp runs them on its own threads). */
export async function buildBatch(pipeline: SamplePipeline, task: BatchTask): Promise<Batch> {
  const [h, w] = pipeline.options.inputShape;
  const size = h * w * 3;
  const images = new Float32Array(task.indices.length * size);
  const samples = await Promise.all(task.indices.map((index, k) => pipeline.sample(index, task.epoch, task.positions[k])));
  const targets = samples.map((s, k) => {
    writePixels(s, images, k * size);
    return encodeTargets(s.rows, w, h);
  });
  return { shape: [task.indices.length, h, w, 3], images, targets, indices: task.indices };
}
