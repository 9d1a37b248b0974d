// Public API of src/yolo/ (filled in by its issue).
export {};
