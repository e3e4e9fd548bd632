/**
 * What a card says it is: a title from the notification's type and where it came from, e.g.
 * "Task failed · deployment", "Approval needed", "Guardian alert · memory". A title the publisher
 * chose (anything but the generic "Grace Notification") is kept as it is.
 */
import type { NotificationFrame } from 'grace-chat-client';

export const GENERIC_TITLE = 'Grace Notification';

const TYPE_TITLES: Record<string, string> = {
  task_started: 'Task started',
  task_progress: 'Task progress',
  task_completed: 'Task completed',
  task_failed: 'Task failed',
  task_cancelled: 'Task cancelled',
  task_paused: 'Task paused',
  task_resumed: 'Task resumed',
  task_interrupted: 'Task interrupted',
  approval_needed: 'Approval needed',
  action_approved: 'Action approved',
  action_rejected: 'Action rejected',
  approval_expired: 'Approval expired',
  action_executed: 'Action executed',
  error_detected: 'Problem detected',
  issue_resolved: 'Issue resolved',
  healing_triggered: 'Self-healing started',
  healing_completed: 'Self-healing completed',
  healing_failed: 'Self-healing failed',
  learning_complete: 'Learning complete',
  learning_failed: 'Learning failed',
  learning_paused: 'Learning paused',
  learning_resumed: 'Learning resumed',
  mission_started: 'Mission started',
  mission_completed: 'Mission completed',
  mission_failed: 'Mission failed',
  test: 'Test notification',
};

/** Sources that say how a notification travelled rather than what it is about. */
const PLUMBING = new Set(['action_gateway', 'task_runner', 'api', 'grace']);

/** `task_failed` → "Task failed"; a type nobody named reads as its words. */
export function typeTitle(type: string): string {
  const known = TYPE_TITLES[type];
  if (known) return known;
  const words = type.replace(/[_.-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}

function words(value: string): string {
  return value.replace(/_/g, ' ');
}

function maybeWords(value: string | null): string | null {
  return value === null ? null : words(value);
}

const DECIDED = new Set(['action_approved', 'action_rejected', 'approval_expired']);

/** Where the notification came from, in a word or two (null when that adds nothing). */
function sourceOf(n: NotificationFrame): string | null {
  const d = n.data;
  if (n.type.startsWith('task_')) return text(d.task_type) ?? text(d.title);
  if (n.type === 'approval_needed') return null; // the message says what is asked
  if (DECIDED.has(n.type)) return maybeWords(text(d.action_type));
  if (n.type.startsWith('healing_')) return maybeWords(text(d.playbook));
  if (n.type.startsWith('mission_')) return text(d.mission_id);
  if (n.type.startsWith('learning_')) return text(d.source) ?? text(d.document);
  const source = text(d.source);
  return source && !PLUMBING.has(source) ? words(source) : null;
}

/** The card's title: the publisher's, or one made from the type and the source. */
export function cardTitle(n: NotificationFrame): string {
  if (n.title && n.title !== GENERIC_TITLE) return n.title;
  const source = text(n.data.source);
  if (source === 'guardian' && (n.type === 'error_detected' || n.type === 'issue_resolved')) {
    const check = text(n.data.check);
    const head = n.type === 'error_detected' ? 'Guardian alert' : 'Guardian: resolved';
    return check ? `${head} · ${words(check)}` : head;
  }
  const from = sourceOf(n);
  return from ? `${typeTitle(n.type)} · ${from}` : typeTitle(n.type);
}
