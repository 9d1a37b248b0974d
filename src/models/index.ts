// Public API of src/models/ (filled in by its issue).
export {};
