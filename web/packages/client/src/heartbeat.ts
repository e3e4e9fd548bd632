/**
 * A ping every `intervalMs` while connected; no answer within `timeoutMs` means the connection is
 * dead (long before TCP would say so), and `dead` is called to drop it and reconnect.
 */
import type { GraceError } from './errors.js';

export class Heartbeat {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped by every start and stop, so the answer to an earlier ping is ignored. */
  private generation = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly ping: (timeoutMs: number) => Promise<unknown>,
    private readonly dead: () => void,
  ) {}

  start(): void {
    this.stop();
    const generation = this.generation;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ping(this.timeoutMs).then(
        () => {
          if (generation === this.generation) this.start();
        },
        (err: GraceError) => {
          if (err.code === 'timeout' && generation === this.generation) this.dead();
        },
      );
    }, this.intervalMs);
  }

  stop(): void {
    this.generation += 1;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
