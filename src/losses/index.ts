// Public API of src/losses/ (filled in by its issue).
export {};
