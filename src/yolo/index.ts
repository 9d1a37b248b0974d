// Public API of src/yolo/.
export * from './anchors.js';
export { assignTargets, bestAnchors, ignoreMask, type AssignOptions, type LevelTargets } from './assign.js';
export { YoloLoss, LEVEL_BALANCE, type YoloLossOptions, type LossParts, type LevelLossParts } from './loss.js';
export { validateTargets } from './validate.js';
export { decodeOutputs, suppressDetections, correctBox, type HeadOutput, type DecodeOptions, type RawDetection, type PostprocessOptions } from './decode.js';
export { kmeansAnchors, formatAnchors, type KmeansOptions, type KmeansResult } from './kmeans.js';
