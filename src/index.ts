/**
 * focal-yolo: YOLOv4 and YOLOv4-tiny on TensorFlow.js, with the focal loss family.
 *
 * Each folder exports its public API from its own index; this file gathers them.
 */
export * from './backend/index.js';
export * from './boxes/index.js';
export * from './losses/index.js';
export * from './yolo/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './train/index.js';
export * from './eval/index.js';
export * from './infer/index.js';
export * from './report/index.js';
