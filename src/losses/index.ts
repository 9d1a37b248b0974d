// Public API of src/losses/.
export type { FocalOptions, LossOptions, LossReduction, TensorInput } from './options.js';
export { binaryCrossEntropy, PROBABILITY_EPSILON } from './bce.js';
export { sigmoidFocalLoss, binaryFocalLoss, DEFAULT_ALPHA, DEFAULT_GAMMA } from './focal.js';
export { boxIou, iouLoss, IOU_TYPES, type IouType, type BoxIouOptions } from './iou.js';
