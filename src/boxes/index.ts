// Public API of src/boxes/ (filled in by its issue).
export {};
export * from './iou.js';
