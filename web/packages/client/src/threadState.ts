/**
 * How frames change what the chat shows, as pure functions: the notification thread, approval
 * outcomes, the task list and read marks.
 */
import type { ApprovalInfo, ApprovalState, NotificationFrame, ReadFrame, TaskInfo } from './frames.js';

/** An approval card's outcome, from an `approval` reply or a decision notification. */
export interface ApprovalOutcome {
  state: ApprovalState;
  decided_by?: string | null;
  decided_at?: string | null;
  reason?: string | null;
}

const DECISIONS: Record<string, ApprovalState> = {
  action_approved: 'approved',
  action_rejected: 'rejected',
  approval_expired: 'expired',
};
const ACTIVE = new Set(['queued', 'running', 'paused', 'cancelling']);
const MAX_NOTIFICATIONS = 1000;

export function isActive(task: TaskInfo): boolean {
  return ACTIVE.has(task.state);
}

/**
 * `current` with `frames` added (a seq seen again replaces its copy), by seq; the latest
 * `MAX_NOTIFICATIONS` are kept, or as many as there were when `keepOlder` (older pages the person
 * asked for stay).
 */
export function mergeNotifications(
  current: NotificationFrame[],
  frames: NotificationFrame[],
  keepOlder = false,
): NotificationFrame[] {
  const bySeq = new Map(current.map((n) => [n.seq, n]));
  for (const f of frames) bySeq.set(f.seq, f);
  const all = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  return keepOlder ? all : all.slice(-Math.max(MAX_NOTIFICATIONS, current.length));
}

/** The approval a decision notification (approved, rejected, expired) settles, and how. */
export function decisionOf(f: NotificationFrame): [string, ApprovalOutcome] | null {
  const id = typeof f.data.approval_id === 'string' ? f.data.approval_id : null;
  const decided = DECISIONS[f.type];
  if (!id || !decided) return null;
  const state = (typeof f.data.state === 'string' ? f.data.state : decided) as ApprovalState;
  return [
    id,
    { state, decided_by: str(f.data.decided_by), decided_at: str(f.data.decided_at) ?? f.timestamp, reason: str(f.data.reason) },
  ];
}

export function outcomeOf(a: ApprovalInfo): ApprovalOutcome {
  return { state: a.state, decided_by: a.decided_by, decided_at: a.decided_at, reason: a.reason };
}

/** The notifications a `read` frame marks, marked read. */
export function applyRead(notifications: NotificationFrame[], frame: ReadFrame): NotificationFrame[] {
  const ids = new Set(frame.ids);
  const upTo = frame.up_to_seq ?? -1;
  return notifications.map((n) => (!n.read && (frame.all || ids.has(n.id) || n.seq <= upTo) ? { ...n, read: true } : n));
}

export function upsertTask(tasks: TaskInfo[] | null, task: TaskInfo): TaskInfo[] {
  const list = tasks ? [...tasks] : [];
  const i = list.findIndex((t) => t.task_id === task.task_id);
  if (i >= 0) list[i] = { ...list[i], ...task };
  else list.unshift(task);
  return list;
}

/** The task list as a task's notification leaves it (state, progress, note). */
export function applyTaskNotification(tasks: TaskInfo[] | null, f: NotificationFrame): TaskInfo[] | null {
  if (!f.type.startsWith('task_') || typeof f.data.task_id !== 'string') return tasks;
  const id = f.data.task_id;
  const patch: Partial<TaskInfo> = {};
  if (typeof f.data.state === 'string') patch.state = f.data.state as TaskInfo['state'];
  if (typeof f.data.progress === 'number') patch.progress = f.data.progress;
  if (typeof f.data.note === 'string') patch.note = f.data.note;
  const existing = tasks?.find((t) => t.task_id === id);
  if (existing) return upsertTask(tasks, { ...existing, ...patch });
  if (!tasks) return tasks; // the list has not been loaded: nothing to patch
  return upsertTask(tasks, {
    task_id: id,
    task_type: typeof f.data.task_type === 'string' ? f.data.task_type : '',
    title: '',
    state: 'running',
    progress: null,
    note: null,
    params: {},
    created_at: f.timestamp,
    started_at: f.timestamp,
    finished_at: null,
    duration_seconds: null,
    running_for: null,
    pause_requested: false,
    result: null,
    error: null,
    ...patch,
  });
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
