/**
 * Protocol v1's server frames as the TypeScript client sees them: the counterpart of
 * `grace_chat.frames`, published in `protocol.schema.json` under `frames` and checked against it by
 * `protocol.test.ts` (every frame, every field, which fields are always present).
 */
import type { ErrorCode, Ref, SendableCommandType } from './protocol.js';

export const TASK_STATES = [
  'queued',
  'running',
  'paused',
  'cancelling',
  'succeeded',
  'failed',
  'cancelled',
  'interrupted',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'expired'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export const SEVERITIES = ['info', 'success', 'warning', 'error'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const LEARNING_STATES = ['running', 'paused'] as const;
export type LearningState = (typeof LEARNING_STATES)[number];

/** How a task ended (the states a task does not leave). */
export const TASK_ENDS = ['succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export type TaskEnd = (typeof TASK_ENDS)[number];

/** How a person wants a type shown: with a desktop alert, silently, or not at all. */
export const NOTIFICATION_MODES = ['alert', 'silent', 'mute'] as const;
export type NotificationMode = (typeof NOTIFICATION_MODES)[number];

// -- what frames carry ----------------------------------------------------------------------------

export interface NotificationAction {
  id: string;
  label: string;
}

export interface TaskInfo {
  task_id: string;
  task_type: string;
  title: string;
  state: TaskState;
  progress: number | null;
  note: string | null;
  params: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_seconds: number | null;
  running_for: string | null;
  pause_requested: boolean;
  result: unknown;
  error: string | null;
}

export interface ApprovalInfo {
  approval_id: string;
  user_id: string;
  action_type: string;
  agent: string;
  params: Record<string, unknown>;
  trace_id: string | null;
  message: string;
  state: ApprovalState;
  created_at: string;
  expires_at: string | null;
  decided_at: string | null;
  decided_by: string | null;
  reason: string | null;
}

export interface LogLine {
  /** Unix time in seconds. */
  t: number;
  line: string;
}

export interface SeverityCounts {
  info: number;
  success: number;
  warning: number;
  error: number;
}

/** An approval in the away summary, as it stands now. */
export interface SummaryApproval {
  approval_id: string;
  state: ApprovalState;
  message: string;
  action_type: string | null;
  expires_at: string | null;
  /** The approval_needed notification's seq; null for one asked before the absence. */
  seq: number | null;
}

/** A background task that ended while the person was away. */
export interface SummaryTask {
  task_id: string;
  state: TaskEnd;
  message: string;
  task_type: string | null;
  title: string | null;
  error: string | null;
  seq: number;
}

/** "While you were away": the notifications after `since` in one summary (muted types left out). */
export interface AwaySummary {
  count: number;
  since: number;
  /** The range it covers: `first_seq`..`last_seq`. */
  first_seq: number;
  last_seq: number;
  first_at: string | null;
  last_at: string | null;
  /** Notification type → how many, most first. */
  by_type: Record<string, number>;
  by_severity: SeverityCounts;
  /** Approvals still waiting for the person. */
  waiting: number;
  /** Pending first; at most 20. */
  approvals: SummaryApproval[];
  /** Failed first; at most 20. */
  tasks: SummaryTask[];
  /** The summary in one sentence. */
  text: string;
}

// -- the frames -----------------------------------------------------------------------------------

/** A notification; its `type` is never the name of a control frame. */
export interface NotificationFrame {
  type: string;
  id: string;
  seq: number;
  title: string;
  message: string;
  badge: string;
  severity: Severity;
  timestamp: string;
  data: Record<string, unknown>;
  actions: NotificationAction[];
  read: boolean;
}

export interface WelcomeFrame {
  type: 'welcome';
  user_id: string;
  epoch: string;
  seq: number;
  unread: number;
  protocol: number;
}
export interface SyncedFrame {
  type: 'synced';
  seq: number;
  /** Present (true) when notifications the client asked for are gone. */
  gap?: boolean;
  /** Present when the replay brought at least `away_digest_threshold` notifications. */
  summary?: AwaySummary | null;
}

/** A frame that may answer a command: `ref` is the command's `id`. */
interface Reply {
  ref?: Ref | null;
}
export interface PongFrame extends Reply {
  type: 'pong';
}
export interface ErrorFrame extends Reply {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** Present when the server closes the stream after this frame. */
  close_code?: number | null;
}
export interface AckedFrame extends Reply {
  type: 'acked';
  seq: number;
}
/** The reply to `mark_read`, also pushed to the user's other connections. */
export interface ReadFrame extends Reply {
  type: 'read';
  ids: string[];
  up_to_seq: number | null;
  all: boolean;
  marked: number;
  unread: number;
}
export interface TaskListFrame extends Reply {
  type: 'task_list';
  tasks: TaskInfo[];
  active: number;
}
export interface TaskFrame extends Reply {
  type: 'task';
  task: TaskInfo;
}
export interface TaskLogsFrame extends Reply {
  type: 'task_logs';
  task_id: string;
  lines: LogLine[];
}
export interface ApprovalFrame extends Reply {
  type: 'approval';
  approval: ApprovalInfo;
  /** False when an earlier decision already stood. */
  decided: boolean;
}
export interface LearningFrame extends Reply {
  type: 'learning';
  /** The gate addressed: the caller's own, or everyone's (admins). */
  scope: 'own' | 'all';
  state: LearningState;
  waiting: number;
  /** Whether the caller's own learning runs, both gates considered. */
  effective: LearningState;
  /** False when learning already was in that state. */
  changed: boolean;
}
/** `summary` in words, plus one section per status provider (tasks, approvals, …). */
export type StatusFrame = Reply & {
  type: 'status';
  summary: string;
  [section: string]: unknown;
};
/**
 * The user's notification preferences changed (in any of their chats, or over REST): every mode
 * they set (types not listed are `default`) and the cards this change archived or unarchived.
 */
export interface PreferencesFrame {
  type: 'preferences';
  modes: Record<string, NotificationMode>;
  default: NotificationMode;
  archived: string[];
  unarchived: string[];
}
export interface ChatReplyFrame extends Reply {
  type: 'chat_reply';
  text: string;
  intent: string | null;
  data: Record<string, unknown>;
}

/** Every server frame by its name in the schema (notifications as `notification`). */
export interface ServerFrameMap {
  welcome: WelcomeFrame;
  synced: SyncedFrame;
  pong: PongFrame;
  error: ErrorFrame;
  acked: AckedFrame;
  read: ReadFrame;
  task_list: TaskListFrame;
  task: TaskFrame;
  task_logs: TaskLogsFrame;
  approval: ApprovalFrame;
  learning: LearningFrame;
  status: StatusFrame;
  chat_reply: ChatReplyFrame;
  preferences: PreferencesFrame;
  notification: NotificationFrame;
}
export type ControlFrame = ServerFrameMap[Exclude<keyof ServerFrameMap, 'notification'>];
export type ServerFrame = ControlFrame | NotificationFrame;

/** What each command is answered with (besides an `error`). */
export interface ReplyMap {
  ping: PongFrame;
  ack: AckedFrame;
  mark_read: ReadFrame;
  list_tasks: TaskListFrame;
  cancel_task: TaskFrame;
  pause_task: TaskFrame;
  resume_task: TaskFrame;
  task_logs: TaskLogsFrame;
  start_task: TaskFrame;
  pause_learning: LearningFrame;
  resume_learning: LearningFrame;
  approve: ApprovalFrame;
  reject: ApprovalFrame;
  status: StatusFrame;
  chat: ChatReplyFrame;
}

/** The type of each command's reply, to check what the server answered. */
export const REPLY_TYPES: { [K in SendableCommandType]: ReplyMap[K]['type'] } = {
  ping: 'pong',
  ack: 'acked',
  mark_read: 'read',
  list_tasks: 'task_list',
  cancel_task: 'task',
  pause_task: 'task',
  resume_task: 'task',
  task_logs: 'task_logs',
  start_task: 'task',
  pause_learning: 'learning',
  resume_learning: 'learning',
  approve: 'approval',
  reject: 'approval',
  status: 'status',
  chat: 'chat_reply',
};
