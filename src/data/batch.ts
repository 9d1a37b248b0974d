/** Assembling batches from the sample pipeline: shared by the in-process path and the worker threads. */
import { encodeTargets } from './augment.js';
import { writePixels, type AugmentedSample, type SamplePipeline } from './pipeline.js';

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

/**
 * Samples of a batch augmented at the same time: enough to keep sharp busy on libuv's threads (a
 * mosaic decodes four images at once), few enough not to thrash. 2 instead of the whole batch cut the
 * CPU per image by about 7% with 2 workers on 2 cores (three alternating runs each).
 */
const SAMPLES_IN_FLIGHT = 2;

/** Builds one batch; a few samples at a time are decoded concurrently (sharp runs them on its own threads). */
export async function buildBatch(pipeline: SamplePipeline, task: BatchTask): Promise<Batch> {
  const [h, w] = pipeline.options.inputShape;
  const size = h * w * 3;
  const images = new Float32Array(task.indices.length * size);
  const samples: AugmentedSample[] = new Array<AugmentedSample>(task.indices.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < task.indices.length) {
      const k = next++;
      samples[k] = await pipeline.sample(task.indices[k], task.epoch, task.positions[k]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SAMPLES_IN_FLIGHT, task.indices.length) }, lane));
  const targets = samples.map((s, k) => {
    writePixels(s, images, k * size);
    pipeline.recycle(s);
    return encodeTargets(s.rows, w, h);
  });
  return { shape: [task.indices.length, h, w, 3], images, targets, indices: task.indices };
}
