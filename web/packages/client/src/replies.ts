/**
 * Command/reply correlation: every command goes out with a fresh `id` and its promise settles
 * with the frame whose `ref` is that id — resolved with the reply, rejected with the server's
 * error code, or with `timeout` / `disconnected` / `closed` when no answer comes.
 */
import { GraceError } from './errors.js';
import { REPLY_TYPES, type ControlFrame, type ReplyMap } from './frames.js';
import type { CommandMap, SendableCommandType } from './protocol.js';

interface Pending {
  command: SendableCommandType;
  resolve: (frame: ControlFrame) => void;
  reject: (err: GraceError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PendingReplies {
  private readonly pending = new Map<string, Pending>();
  private counter = 0;

  /**
   * Send `command` with a fresh id through `send` and wait up to `timeoutMs` for its reply;
   * `label` is the timeout the caller asked for, for the error message.
   */
  request<K extends SendableCommandType>(
    command: CommandMap[K],
    send: (frame: CommandMap[K]) => void,
    timeoutMs: number,
    label = timeoutMs,
  ): Promise<ReplyMap[K]> {
    const id = `c${++this.counter}`;
    return new Promise<ReplyMap[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GraceError('timeout', `no answer to '${command.type}' in ${Math.round(label / 1000)}s`));
      }, timeoutMs);
      this.pending.set(id, { command: command.type, resolve: resolve as (f: ControlFrame) => void, reject, timer });
      try {
        send({ ...command, id });
      } catch {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new GraceError('disconnected', 'the connection dropped before the command was sent'));
      }
    });
  }

  /** Settle the command `frame` answers, if it answers one of ours. */
  settle(frame: ControlFrame): void {
    const ref = 'ref' in frame ? frame.ref : undefined;
    if (ref === undefined || ref === null) return;
    const pending = this.pending.get(String(ref));
    if (!pending) return;
    this.pending.delete(String(ref));
    clearTimeout(pending.timer);
    if (frame.type === 'error') pending.reject(new GraceError(frame.code, frame.message));
    else if (frame.type !== REPLY_TYPES[pending.command]) {
      pending.reject(new GraceError('internal', `the server answered '${pending.command}' with '${frame.type}'`));
    } else pending.resolve(frame);
  }

  /** Reject every command still waiting. */
  failAll(err: GraceError): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}

/** Commands that wait for the connection to be (re)established before they are sent. */
export class ConnectionWaiters {
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: GraceError) => void }>();

  /** Resolves once connected; rejects with `timeout` after `timeoutMs`, naming `what` waited. */
  wait(timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: GraceError) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new GraceError('timeout', `not connected to Grace: '${what}' was not sent`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  connected(): void {
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
  }

  failAll(err: GraceError): void {
    for (const waiter of this.waiters) waiter.reject(err);
    this.waiters.clear();
  }
}
