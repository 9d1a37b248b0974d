// Public API of src/train/.
export { accumulateGradients, splitBatch } from './accumulate.js';
export type { AccumulateOptions, AccumulatedGradients } from './accumulate.js';
export { fitLearningRates, learningRateAt, NOMINAL_BATCH_SIZE } from './schedule.js';
export type { OptimizerType, ScheduleType, ScheduleOptions } from './schedule.js';
export { ReferenceOptimizer } from './optimizer.js';
export type { OptimizerConfig, OptimizerState, ParamGroup } from './optimizer.js';
export { ModelEMA } from './ema.js';
export { defaultTrainConfig, loadTrainConfig, validateTrainConfig, TRAIN_OPTION_NAMES } from './config.js';
export type { TrainConfig } from './config.js';
