// Public API of src/train/.
export { accumulateGradients, splitBatch } from './accumulate.js';
export type { AccumulateOptions, AccumulatedGradients } from './accumulate.js';
