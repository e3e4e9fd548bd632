/** What the thread shows, in which order: notification cards and messages by time. */
import type { ChatMessage } from '../chatMessages';
import type { NotificationFrame } from '../frames';
import type { ApprovalOutcome } from '../threadState';

type Entry =
  | { kind: 'notification'; at: number; order: number; n: NotificationFrame }
  | { kind: 'message'; at: number; order: number; m: ChatMessage };

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

/** Cards and messages in time order; at the same instant, a card before a message. */
export function threadEntries(notifications: NotificationFrame[], messages: ChatMessage[]): Entry[] {
  const list: Entry[] = [
    ...collapseProgress(notifications).map((n, i) => ({
      kind: 'notification' as const,
      at: Date.parse(n.timestamp),
      order: i,
      n,
    })),
    ...messages.map((m, i) => ({ kind: 'message' as const, at: m.at, order: i, m })),
  ];
  return list.sort((a, b) => a.at - b.at || (a.kind === b.kind ? a.order - b.order : a.kind === 'notification' ? -1 : 1));
}

/** The outcome known for the approval a card asks about. */
export function approvalOutcome(n: NotificationFrame, approvals: Record<string, ApprovalOutcome>): ApprovalOutcome | null {
  const id = n.data.approval_id;
  return typeof id === 'string' ? (approvals[id] ?? null) : null;
}

/** Why the chat is not connected, and what to do about it. */
export function connectionError(code: string, message: string): string {
  if (code === 'unauthenticated') {
    return `Not signed in (${message}). Open the link that \`grace serve\` printed, or ask for a new token with \`grace token\`.`;
  }
  if (code === 'forbidden') return `Grace refused this page: ${message}.`;
  return message;
}
