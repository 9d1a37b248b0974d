/**
 * Kernels we add to the wasm backend (Conv2DBackpropFilter, a fast Conv2DBackpropInput).
 * Placeholder: the foundation issue's wasm kernel work fills this in.
 */
export function registerWasmKernels(): void {
  // registered in a later commit
}
