// Public API of src/boxes/ (filled in by its issue).
export {};
export * from './letterbox.js';
export * from './iou.js';
export * from './nms.js';
