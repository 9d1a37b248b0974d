/**
 * A progress bar for long work (training epochs, dataset checks, evaluation): count, rate, ETA
 * and a free-form status (loss parts). Redraws in place on a terminal; elsewhere (CI, logs) prints
 * a plain line at most every `logEverySeconds` and at the end.
 */

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** What is counted, printed before the bar (e.g. `Epoch 3/100`). */
  label: string;
  /** Total units of work. */
  total: number;
  /** Unit name for the rate (default `it`). */
  unit?: string;
  /** Where to write (default `process.stderr`). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Minimum seconds between plain (non-terminal) lines (default 10). */
  logEverySeconds?: number;
  /** Draw nothing. */
  silent?: boolean;
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/**
 * @example
 * ```ts
 * const bar = new ProgressBar({ label: 'Epoch 1/50', total: stepsPerEpoch, unit: 'batch' });
 * for (let i = 0; i < stepsPerEpoch; i++) { trainStep(); bar.tick(1, `loss ${loss.toFixed(3)}`); }
 * bar.done();
 * ```
 */
export class ProgressBar {
  private done_ = 0;
  private readonly start = performance.now();
  private lastPlain = -Infinity;
  /** Count and status of the last plain line, so that `done()` does not repeat an identical line. */
  private lastPlainKey = '';
  private status = '';
  private finished = false;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
  }

  /** Units done so far. */
  get count(): number {
    return this.done_;
  }

  /** The text of the bar now (without control characters). */
  line(width = 80): string {
    const { total, label } = this.opts;
    const unit = this.opts.unit ?? 'it';
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = this.done_ > 0 ? this.done_ / elapsed : 0;
    const eta = rate > 0 ? (total - this.done_) / rate : NaN;
    const frac = total > 0 ? Math.min(1, this.done_ / total) : 1;
    const rateText = rate >= 1 || rate === 0 ? `${rate.toFixed(2)} ${unit}/s` : `${(1 / rate).toFixed(2)} s/${unit}`;
    const tail = ` ${this.done_}/${total} [${formatDuration(elapsed)}<${formatDuration(eta)}, ${rateText}]${this.status ? ' ' + this.status : ''}`;
    const barWidth = Math.max(10, Math.min(30, width - label.length - tail.length - 4));
    const filled = Math.round(frac * barWidth);
    return `${label} ${String(Math.round(frac * 100)).padStart(3)}%|${'█'.repeat(filled)}${' '.repeat(barWidth - filled)}|${tail}`;
  }

  /** Adds `n` units and optionally replaces the status text. */
  tick(n = 1, status?: string): void {
    this.done_ += n;
    if (status !== undefined) this.status = status;
    this.render(false);
  }

  /** Replaces the status text without counting. */
  setStatus(status: string): void {
    this.status = status;
    this.render(false);
  }

  /** Finishes the bar (prints the final line once). */
  done(status?: string): void {
    if (this.finished) return;
    if (status !== undefined) this.status = status;
    this.finished = true;
    this.render(true);
  }

  private render(final: boolean): void {
    if (this.opts.silent) return;
    if (this.stream.isTTY) {
      const text = this.line(this.stream.columns ?? 100);
      this.stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
      return;
    }
    const now = performance.now();
    const every = (this.opts.logEverySeconds ?? 10) * 1000;
    const key = `${this.done_}\u0000${this.status}`;
    if (final && key === this.lastPlainKey) return;
    if (final || now - this.lastPlain >= every) {
      this.lastPlain = now;
      this.lastPlainKey = key;
      this.stream.write(`${this.line(120)}\n`);
    }
  }
}
