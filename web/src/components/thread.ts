/**
 * What the thread shows, in which order: notification cards, messages and the away summary by
 * time; muted types and archived cards left out, the cards a summary covers folded under it.
 */
import type { ChatMessage } from 'grace-chat-client';
import { covers } from 'grace-chat-client';
import type { AwaySummary, NotificationFrame, NotificationMode } from 'grace-chat-client';
import type { ApprovalOutcome } from 'grace-chat-client';

export type Entry =
  | { kind: 'notification'; at: number; order: number; n: NotificationFrame }
  | { kind: 'message'; at: number; order: number; m: ChatMessage }
  | { kind: 'digest'; at: number; order: number; summary: AwaySummary; covered: NotificationFrame[] };

/** What the person chose to see, and what waits. */
export interface ThreadView {
  modes: Record<string, NotificationMode>;
  defaultMode: NotificationMode;
  archived: ReadonlySet<string>;
  showArchived: boolean;
  digest: AwaySummary | null;
  holdAbove: number | null;
}

const NO_VIEW: ThreadView = {
  modes: {},
  defaultMode: 'alert',
  archived: new Set(),
  showArchived: false,
  digest: null,
  holdAbove: null,
};

/** The notifications the thread shows: none muted, none archived (unless asked), none held. */
export function visibleNotifications(notifications: NotificationFrame[], view: ThreadView): NotificationFrame[] {
  return notifications.filter(
    (n) =>
      (view.modes[n.type] ?? view.defaultMode) !== 'mute' &&
      (view.showArchived || !view.archived.has(n.id)) &&
      (view.holdAbove === null || n.seq <= view.holdAbove),
  );
}

const TASK_END = new Set(['task_completed', 'task_failed', 'task_cancelled', 'task_interrupted']);

/**
 * A running task reports progress about once a second: the thread keeps only its latest progress
 * card, and none once the task has ended.
 */
export function collapseProgress(notifications: NotificationFrame[]): NotificationFrame[] {
  const latest = new Map<string, number>();
  const ended = new Set<string>();
  for (const n of notifications) {
    const task = typeof n.data.task_id === 'string' ? n.data.task_id : null;
    if (!task) continue;
    if (n.type === 'task_progress') latest.set(task, n.seq);
    if (TASK_END.has(n.type)) ended.add(task);
  }
  return notifications.filter((n) => {
    if (n.type !== 'task_progress') return true;
    const task = typeof n.data.task_id === 'string' ? n.data.task_id : null;
    return task === null || (latest.get(task) === n.seq && !ended.has(task));
  });
}

const KIND_ORDER: Record<Entry['kind'], number> = { digest: 0, notification: 1, message: 2 };

/**
 * Cards, messages and the away summary in time order; at the same instant, the summary first,
 * then a card, then a message. The cards the summary covers are in its entry, not in the list.
 */
export function threadEntries(notifications: NotificationFrame[], messages: ChatMessage[], view: ThreadView = NO_VIEW): Entry[] {
  const shown = collapseProgress(visibleNotifications(notifications, view));
  const digest = view.digest;
  const covered = digest ? shown.filter((n) => covers(digest, n)) : [];
  const loose = digest ? shown.filter((n) => !covers(digest, n)) : shown;
  const list: Entry[] = [
    ...loose.map((n, i) => ({ kind: 'notification' as const, at: Date.parse(n.timestamp), order: i, n })),
    ...messages.map((m, i) => ({ kind: 'message' as const, at: m.at, order: i, m })),
  ];
  if (digest) {
    const first = digest.first_at ?? covered[0]?.timestamp;
    list.push({ kind: 'digest', at: first ? Date.parse(first) : Number.MAX_SAFE_INTEGER, order: 0, summary: digest, covered });
  }
  return list.sort((a, b) => a.at - b.at || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.order - b.order);
}

/** A stable key for an entry (its React key, and what tells that the thread grew at its end). */
export function entryKey(e: Entry): string {
  if (e.kind === 'notification') return `n${e.n.seq}`;
  if (e.kind === 'message') return e.m.id;
  return `d${e.summary.first_seq}-${e.summary.last_seq}`;
}

/** The outcome known for the approval a card asks about. */
export function approvalOutcome(n: NotificationFrame, approvals: Record<string, ApprovalOutcome>): ApprovalOutcome | null {
  const id = n.data.approval_id;
  return typeof id === 'string' ? (approvals[id] ?? null) : null;
}

/** Why the chat is not connected, and what to do about it. */
export function connectionError(code: string, message: string): string {
  if (code === 'unauthenticated' && /expired/i.test(message)) {
    return 'Your session expired: sign in again. Open a new login link (`grace token USER` makes one).';
  }
  if (code === 'unauthenticated') {
    return `Not signed in (${message}). Open the link that \`grace serve\` printed, or ask for a new token with \`grace token\`.`;
  }
  if (code === 'forbidden') return `Grace refused this page: ${message}.`;
  return message;
}
