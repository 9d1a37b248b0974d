/** Worker thread of the data loader: builds batches on request (see loader.ts for the protocol). */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { buildBatch, type BatchTask } from './batch.js';
import { SamplePipeline, type AugmentOptions, type PipelineItem } from './pipeline.js';

interface Init {
  items: PipelineItem[];
  options: AugmentOptions;
  sharpThreads: number;
}

const init = workerData as Init;
sharp.concurrency(init.sharpThreads);
// libvips' operation cache (process-wide) only helps repeated identical operations, which augmentation
// never makes; its bookkeeping cost about 0.5 ms of CPU per sample here.
sharp.cache(false);
const pipeline = new SamplePipeline(init.items, init.options);
const port = parentPort!;

port.on('message', (msg: { id: number; task: BatchTask }) => {
  buildBatch(pipeline, msg.task).then(
    (batch) => port.postMessage({ id: msg.id, batch }, [batch.images.buffer as ArrayBuffer, ...batch.targets.map((t) => t.buffer as ArrayBuffer)]),
    (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
