/**
 * Exactly-once delivery across connections and pages: where this browser stands in the user's
 * log (the last seq seen, with the server's epoch), kept per user in storage.
 *
 * Each connection asks to resume after the stored seq. Notifications at or below it are dropped,
 * so nothing is shown twice. When the server's epoch or the user is not what the stored seq
 * belongs to, the replay is discarded and a reset is reported, so the caller reloads history.
 */
import type { NotificationFrame, SyncedFrame, WelcomeFrame } from './frames.js';
import type { KeyValueStorage } from './storage.js';

const RESUME_PREFIX = 'grace.resume.v1:';
/** The user this browser last signed in as, whose resume position to use before `welcome`. */
export const LAST_USER_KEY = 'grace.user';

/** What this client knew no longer matches the server: new epoch, other user, history gap. */
export type ResetReason = 'epoch' | 'user' | 'gap';

interface Position {
  epoch: string;
  seq: number;
}

export class ResumeState {
  private user: string | null;
  private epoch: string | null = null;
  private lastSeq: number | null = null;
  /** Who this connection asked as and from where, to check against `welcome`. */
  private asked: { user: string | null; position: Position | null } | null = null;
  private discardReplay = false;
  private replayDone = false;

  constructor(
    private readonly storage: KeyValueStorage | null,
    user: string | null,
  ) {
    this.user = user ?? storage?.getItem(LAST_USER_KEY) ?? null;
    const stored = this.read(this.user);
    if (stored) {
      this.epoch = stored.epoch;
      this.lastSeq = stored.seq;
    }
  }

  get userId(): string | null {
    return this.user;
  }

  get seq(): number | null {
    return this.lastSeq;
  }

  /** A connection starts: the seq to resume after (null: from now on). */
  begin(): number | null {
    this.replayDone = false;
    this.discardReplay = false;
    const position = this.lastSeq !== null && this.epoch !== null ? { epoch: this.epoch, seq: this.lastSeq } : null;
    this.asked = { user: this.user, position };
    return position?.seq ?? null;
  }

  /** The server greeted: take its user and epoch. The reset this calls for, if any. */
  welcome(frame: WelcomeFrame): ResetReason | null {
    const asked = this.asked;
    let reset: ResetReason | null = null;
    if (asked?.position) {
      if (asked.user !== null && asked.user !== frame.user_id) reset = 'user';
      else if (asked.position.epoch !== frame.epoch) reset = 'epoch';
    }
    this.discardReplay = reset !== null;
    if (this.user !== frame.user_id) this.storage?.setItem(LAST_USER_KEY, frame.user_id);
    this.user = frame.user_id;
    this.epoch = frame.epoch;
    if (!asked?.position || this.discardReplay) this.save(frame.seq);
    return reset;
  }

  /** The replay is over; everything up to the server's cursor has been delivered. */
  synced(frame: SyncedFrame): ResetReason | null {
    this.replayDone = true;
    this.discardReplay = false;
    this.save(frame.seq);
    return frame.gap ? 'gap' : null;
  }

  /** Whether to show `frame` (null: seen already, or part of a discarded replay). */
  accept(frame: NotificationFrame): { replayed: boolean } | null {
    if (this.discardReplay && !this.replayDone) return null;
    if (this.lastSeq !== null && frame.seq <= this.lastSeq) return null;
    this.save(frame.seq);
    return { replayed: !this.replayDone };
  }

  /** Forget the stored position (e.g. after logging out). */
  forget(): void {
    if (this.user) this.storage?.removeItem(RESUME_PREFIX + this.user);
    this.lastSeq = null;
    this.epoch = null;
  }

  private save(seq: number): void {
    this.lastSeq = seq;
    if (this.user && this.epoch) {
      const value: Position = { epoch: this.epoch, seq };
      this.storage?.setItem(RESUME_PREFIX + this.user, JSON.stringify(value));
    }
  }

  private read(user: string | null): Position | null {
    if (!user) return null;
    const raw = this.storage?.getItem(RESUME_PREFIX + user);
    if (!raw) return null;
    try {
      const value = JSON.parse(raw) as Partial<Position>;
      if (typeof value.epoch === 'string' && typeof value.seq === 'number') {
        return { epoch: value.epoch, seq: value.seq };
      }
    } catch {
      /* ignore a corrupt entry */
    }
    return null;
  }
}
