/**
 * "While you were away": the server's summary of a long absence (`synced.summary`), kept per user
 * in this browser until the person dismisses it, so a reload shows the thread as it was.
 */
import type { AwaySummary, NotificationFrame } from './frames.js';
import type { KeyValueStorage } from './storage.js';

const DIGEST_PREFIX = 'grace.digest.v1:';

interface Kept {
  epoch: string;
  summary: AwaySummary;
}

export class DigestStore {
  constructor(private readonly storage: KeyValueStorage | null) {}

  /** The summary kept for `user` in the log `epoch` (another epoch's is forgotten). */
  load(user: string, epoch: string): AwaySummary | null {
    try {
      const raw = this.storage?.getItem(DIGEST_PREFIX + user);
      if (!raw) return null;
      const kept = JSON.parse(raw) as Partial<Kept>;
      if (kept.epoch === epoch && kept.summary && typeof kept.summary.first_seq === 'number') return kept.summary;
    } catch {
      /* unreadable: as if none */
    }
    this.clear(user);
    return null;
  }

  save(user: string, epoch: string, summary: AwaySummary): void {
    try {
      this.storage?.setItem(DIGEST_PREFIX + user, JSON.stringify({ epoch, summary } satisfies Kept));
    } catch {
      /* storage full: it shows until the page goes */
    }
  }

  clear(user: string | null): void {
    if (user) this.storage?.removeItem(DIGEST_PREFIX + user);
  }
}

/** Whether the summary covers this notification (it folds under the summary's card). */
export function covers(summary: AwaySummary, n: NotificationFrame): boolean {
  return n.seq >= summary.first_seq && n.seq <= summary.last_seq;
}
