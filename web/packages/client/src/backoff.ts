/**
 * Reconnect delays: exponential from `initialMs` up to `maxMs`, with "equal jitter" (each delay
 * is between half and all of the exponential base), so clients that lost the server together do
 * not all come back in the same instant.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  /** Attempts since the last `reset`. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay range of the next attempt. */
  range(): [number, number] {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    return [base / 2, base];
  }

  /** The delay before the next attempt, which it counts. */
  next(): number {
    const [low, high] = this.range();
    this.attempt += 1;
    return low + this.random() * (high - low);
  }

  /** The longest delay (jittered like the others), without counting an attempt: for a server
   * that asked to be left alone for a while. */
  longest(): number {
    return this.maxMs / 2 + this.random() * (this.maxMs / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
