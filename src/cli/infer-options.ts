/** Option parsers shared by the predict, eval, fps and anchors commands. */

/** A commander parser for an integer in [min, max]. */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${v} must be an integer in ${min}…${max}`);
    return n;
  };
}

/** A commander parser for a number in [min, max]. */
export function numberOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} ${v} must be a number in ${min}…${max}`);
    return n;
  };
}

/** `416` or `HxW` → [height, width], multiples of 32. */
export function sizeOption(name: string): (v: string) => [number, number] {
  return (v) => {
    const parts = v.split(/[x,]/).map(Number);
    const [h, w] = parts.length === 1 ? [parts[0], parts[0]] : parts;
    if (parts.length > 2 || !Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h % 32 !== 0 || w % 32 !== 0) {
      throw new Error(`--${name} ${v} must be a multiple of 32 (e.g. 416) or HxW (e.g. 416x608)`);
    }
    return [h, w];
  };
}
