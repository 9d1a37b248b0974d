/**
 * The data loader: decodes and augments in worker threads with a bounded prefetch queue and yields
 * batches in order. Deterministic for a seed (each sample's randomness comes from (seed, epoch,
 * position), so the number of workers does not change the batches); epochs differ.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { buildBatch, type Batch, type BatchTask } from './batch.js';
import { pipelineItems, resolveAugmentOptions, SamplePipeline, type AugmentOptions } from './pipeline.js';
import { createRandom, shuffleInPlace } from './rng.js';
import type { Dataset, Sample } from './types.js';

/** Loader options: augmentation (see {@link AugmentOptions}) plus batching. */
export interface LoaderOptions extends AugmentOptions {
  batchSize: number;
  /** worker threads; 0 = decode in this thread [min(4, cores − 1), at least 1] */
  workers?: number;
  /** batches decoded ahead of the consumer [2 per worker, at least 2] */
  prefetch?: number;
  /** reshuffle every epoch (the reference shuffles train and val) [true] */
  shuffle?: boolean;
  /** drop the last incomplete batch [true] */
  dropLast?: boolean;
  /** keep VOC difficult / COCO crowd objects in the targets [false] */
  keepDifficult?: boolean;
  /** sharp threads per worker [1] */
  sharpThreads?: number;
}

interface Pending {
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
}

/** Starts a worker from the built .js file, or from the .ts source through tsx when running from source. */
function startWorker(workerData: unknown): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const target = new URL('./worker.ts', self).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(new URL('./worker.js', self), { workerData });
}

/**
 * Batches of augmented images for training or validation.
 *
 * @example
 * const loader = createLoader(dataset, { inputShape: [416, 416], batchSize: 8, seed: 11, epochs: 100 });
 * for await (const batch of loader.epoch(0)) train(batch.images, batch.targets);
 * await loader.close();
 */
export class DataLoader {
  readonly options: Required<AugmentOptions> & { batchSize: number; workers: number; prefetch: number; shuffle: boolean; dropLast: boolean };
  private readonly pipeline: SamplePipeline;
  private workers: Worker[] = [];
  private busy: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  private readonly init: { items: unknown; options: AugmentOptions; sharpThreads: number };

  constructor(samples: Sample[], opts: LoaderOptions) {
    const aug = resolveAugmentOptions(opts);
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) throw new Error(`batchSize ${opts.batchSize} must be a positive integer`);
    const workers = opts.workers ?? Math.max(1, Math.min(4, os.cpus().length - 1));
    if (!(Number.isInteger(workers) && workers >= 0)) throw new Error(`workers ${workers} must be 0 or a positive integer`);
    const prefetch = opts.prefetch ?? Math.max(2, 2 * workers);
    if (!(Number.isInteger(prefetch) && prefetch > 0)) throw new Error(`prefetch ${prefetch} must be a positive integer`);
    this.options = { ...aug, batchSize: opts.batchSize, workers, prefetch, shuffle: opts.shuffle ?? true, dropLast: opts.dropLast ?? true };
    const items = pipelineItems(samples, { keepDifficult: opts.keepDifficult });
    this.pipeline = new SamplePipeline(items, aug);
    // each worker caches on its own: the budget is split between them
    this.init = { items, options: { ...aug, cacheMiB: aug.cacheMiB / Math.max(1, workers) }, sharpThreads: opts.sharpThreads ?? 1 };
    if (this.length === 0) {
      throw new Error(`the dataset has ${samples.length} samples, fewer than batchSize ${opts.batchSize}: lower the batch size or set dropLast: false`);
    }
  }

  /** Number of samples. */
  get size(): number {
    return this.pipeline.items.length;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.size / this.options.batchSize;
    return this.options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The dataset order of an epoch (shuffled from (seed, epoch) when shuffling). */
  order(epoch: number): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    return this.options.shuffle ? shuffleInPlace(createRandom(this.options.seed, epoch, 0x7fffffff), order) : order;
  }

  /** The batch tasks of an epoch. */
  private tasks(epoch: number): BatchTask[] {
    const order = this.order(epoch);
    const b = this.options.batchSize;
    return Array.from({ length: this.length }, (_, k) => {
      const positions = order.slice(k * b, (k + 1) * b).map((_, j) => k * b + j);
      return { epoch, indices: positions.map((p) => order[p]), positions };
    });
  }

  private ensureWorkers(): void {
    if (this.workers.length > 0 || this.options.workers === 0) return;
    for (let i = 0; i < this.options.workers; i++) {
      const worker = startWorker(this.init);
      worker.on('message', (msg: { id: number; batch?: Batch; error?: string }) => {
        this.busy[i]--;
        if (this.busy[i] === 0) worker.unref();
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (!p) return;
        if (msg.batch) p.resolve(msg.batch);
        else p.reject(new Error(msg.error));
      });
      worker.on('error', (err) => this.failAll(err));
      worker.on('exit', (code) => {
        if (!this.closed && code !== 0) this.failAll(new Error(`data worker exited with code ${code}`));
      });
      worker.unref();
      this.workers.push(worker);
      this.busy.push(0);
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private submit(task: BatchTask): Promise<Batch> {
    if (this.options.workers === 0) return buildBatch(this.pipeline, task);
    this.ensureWorkers();
    const i = this.busy.indexOf(Math.min(...this.busy));
    const id = this.nextId++;
    const promise = new Promise<Batch>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.busy[i]++ === 0) this.workers[i].ref();
    this.workers[i].postMessage({ id, task });
    return promise;
  }

  /**
   * The batches of one epoch, in order; at most `prefetch` are being decoded ahead.
   *
   * @param epoch 0-based epoch (drives the shuffle, the randomness and the mosaic switch-off)
   */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    if (this.closed) throw new Error('DataLoader.epoch: the loader is closed; create a new one');
    const tasks = this.tasks(epoch);
    const queue: Promise<Batch>[] = [];
    let next = 0;
    const fill = () => {
      while (next < tasks.length && queue.length < this.options.prefetch) {
        const p = this.submit(tasks[next++]);
        p.catch(() => undefined); // rejections surface when the batch is awaited
        queue.push(p);
      }
    };
    fill();
    while (queue.length > 0) {
      const batch = await queue.shift()!;
      fill();
      yield batch;
    }
  }

  /** Stops the worker threads. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers;
    this.workers = [];
    this.failAll(new Error('DataLoader closed'));
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Creates a {@link DataLoader} over a dataset or a list of samples.
 *
 * @example
 * const loader = createLoader(await readSplit(config, 'train'), { inputShape: [416, 416], batchSize: 4 });
 */
export function createLoader(data: Dataset | Sample[], opts: LoaderOptions): DataLoader {
  return new DataLoader(Array.isArray(data) ? data : data.samples, opts);
}
