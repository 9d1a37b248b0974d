// Public API of src/losses/.
export type { FocalOptions, LossOptions, LossReduction, TensorInput } from './options.js';
export { binaryCrossEntropy, PROBABILITY_EPSILON } from './bce.js';
export { sigmoidFocalLoss, binaryFocalLoss, DEFAULT_ALPHA, DEFAULT_GAMMA } from './focal.js';
export { boxIou, iouLoss, IOU_TYPES, type IouType, type BoxIouOptions } from './iou.js';
export { softmaxFocalLoss } from './softmax.js';
export { qualityFocalLoss, varifocalLoss, polyFocalLoss } from './soft-targets.js';
export type { QualityFocalOptions, VarifocalOptions, PolyFocalOptions } from './soft-targets.js';
export { priorBias } from './prior.js';
export { kerasLoss, binaryFocalCrossentropy, categoricalFocalCrossentropy, type KerasLossFunction, type KerasFocalOptions } from './keras.js';
export { PositivesEma, type PositivesEmaOptions } from './normalizer.js';
export { asymmetricLoss, type AsymmetricOptions } from './asymmetric.js';
