// Public API of src/eval/: VOC and COCO mAP, PR curves.
export * from './types.js';
export { evaluateDetections, evaluateDetectionsSync } from './evaluate.js';
export { allPointAp } from './voc.js';
export { writePrCurves } from './plots.js';
