/**
 * Protocol v1 as the TypeScript client sees it. The server publishes the same protocol as JSON
 * Schema (`grace.protocol.protocol_schema()`, committed as `protocol.schema.json`); the tests in
 * `protocol.test.ts` fail when these declarations and that schema drift apart, and
 * `tests/test_protocol_schema.py` fails when the committed schema and the server drift apart.
 */

export const PROTOCOL_VERSION = 1;

export const ERROR_CODES = [
  'bad_json',
  'bad_request',
  'unknown_command',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'too_large',
  'unavailable',
  'slow_consumer',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes the client itself uses when a command fails without a server answer. */
export type ClientErrorCode = 'timeout' | 'disconnected' | 'closed' | 'network';

export const CLOSE_CODES = {
  going_away: 1001,
  too_large: 1009,
  internal_error: 1011,
  slow_consumer: 4008,
  unauthenticated: 4401,
  forbidden: 4403,
  too_many_connections: 4429,
} as const;

export const CONTROL_FRAMES = [
  'acked',
  'approval',
  'chat_reply',
  'error',
  'hello',
  'learning',
  'pong',
  'read',
  'status',
  'synced',
  'task',
  'task_list',
  'task_logs',
  'welcome',
] as const;
export type ControlFrameType = (typeof CONTROL_FRAMES)[number];

export type Ref = string | number;
export type Severity = 'info' | 'success' | 'warning' | 'error';

// -- client → server ----------------------------------------------------------------------------

interface Base {
  id?: Ref | null;
}
export interface HelloCommand extends Base {
  type: 'hello';
  token?: string | null;
  since?: number | null;
}
export interface PingCommand extends Base {
  type: 'ping';
}
export interface AckCommand extends Base {
  type: 'ack';
  seq: number;
}
export interface MarkReadCommand extends Base {
  type: 'mark_read';
  ids?: string[] | null;
  up_to_seq?: number | null;
  all?: boolean;
}
export interface ListTasksCommand extends Base {
  type: 'list_tasks';
  include_finished?: boolean;
}
export interface CancelTaskCommand extends Base {
  type: 'cancel_task';
  task_id: string;
}
export interface PauseTaskCommand extends Base {
  type: 'pause_task';
  task_id: string;
}
export interface ResumeTaskCommand extends Base {
  type: 'resume_task';
  task_id: string;
}
export interface TaskLogsCommand extends Base {
  type: 'task_logs';
  task_id: string;
  limit?: number;
}
export interface StartTaskCommand extends Base {
  type: 'start_task';
  task_type: string;
  params?: Record<string, unknown>;
  task_id?: string;
}
export interface PauseLearningCommand extends Base {
  type: 'pause_learning';
}
export interface ResumeLearningCommand extends Base {
  type: 'resume_learning';
}
export interface ApproveCommand extends Base {
  type: 'approve';
  approval_id: string;
  reason?: string | null;
}
export interface RejectCommand extends Base {
  type: 'reject';
  approval_id: string;
  reason?: string | null;
}
export interface StatusCommand extends Base {
  type: 'status';
}
export interface ChatCommand extends Base {
  type: 'chat';
  text: string;
}

export interface CommandMap {
  hello: HelloCommand;
  ping: PingCommand;
  ack: AckCommand;
  mark_read: MarkReadCommand;
  list_tasks: ListTasksCommand;
  cancel_task: CancelTaskCommand;
  pause_task: PauseTaskCommand;
  resume_task: ResumeTaskCommand;
  task_logs: TaskLogsCommand;
  start_task: StartTaskCommand;
  pause_learning: PauseLearningCommand;
  resume_learning: ResumeLearningCommand;
  approve: ApproveCommand;
  reject: RejectCommand;
  status: StatusCommand;
  chat: ChatCommand;
}
export type CommandType = keyof CommandMap;
export type Command = CommandMap[CommandType];

type FieldSpec<T> = { [F in keyof Required<T>]-?: 'required' | 'optional' };

/**
 * Every field of every command, and whether the server requires it. The mapped type makes this
 * list exactly the keys of the interfaces above; the test compares it with the server's schema.
 */
export const COMMAND_FIELDS: { [K in CommandType]: FieldSpec<CommandMap[K]> } = {
  hello: { type: 'required', id: 'optional', token: 'optional', since: 'optional' },
  ping: { type: 'required', id: 'optional' },
  ack: { type: 'required', id: 'optional', seq: 'required' },
  mark_read: {
    type: 'required',
    id: 'optional',
    ids: 'optional',
    up_to_seq: 'optional',
    all: 'optional',
  },
  list_tasks: { type: 'required', id: 'optional', include_finished: 'optional' },
  cancel_task: { type: 'required', id: 'optional', task_id: 'required' },
  pause_task: { type: 'required', id: 'optional', task_id: 'required' },
  resume_task: { type: 'required', id: 'optional', task_id: 'required' },
  task_logs: { type: 'required', id: 'optional', task_id: 'required', limit: 'optional' },
  start_task: { type: 'required', id: 'optional', task_type: 'required', params: 'optional', task_id: 'optional' },
  pause_learning: { type: 'required', id: 'optional' },
  resume_learning: { type: 'required', id: 'optional' },
  approve: { type: 'required', id: 'optional', approval_id: 'required', reason: 'optional' },
  reject: { type: 'required', id: 'optional', approval_id: 'required', reason: 'optional' },
  status: { type: 'required', id: 'optional' },
  chat: { type: 'required', id: 'optional', text: 'required' },
};

// -- server → client ----------------------------------------------------------------------------

export interface NotificationAction {
  id: string;
  label: string;
}

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

export type TaskState =
  | 'queued'
  | 'running'
  | 'paused'
  | 'cancelling'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'interrupted';

export interface TaskInfo {
  task_id: string;
  task_type: string;
  state: TaskState;
  progress: number | null;
  note?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
  duration_seconds?: number | null;
  running_for?: string | null;
  error?: string | null;
  result?: unknown;
}

export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired';

export interface ApprovalInfo {
  approval_id: string;
  action_type: string;
  agent?: string | null;
  params?: Record<string, unknown>;
  trace_id?: string | null;
  state: ApprovalState;
  decided_by?: string | null;
  decided_at?: string | null;
  reason?: string | null;
  created_at?: string | null;
  expires_at?: string | null;
}

interface Reply {
  ref?: Ref;
}
export interface WelcomeFrame extends Reply {
  type: 'welcome';
  user_id: string;
  epoch: string;
  seq: number;
  unread: number;
  protocol: number;
}
export interface SyncedFrame extends Reply {
  type: 'synced';
  seq: number;
  gap?: boolean;
}
export interface PongFrame extends Reply {
  type: 'pong';
}
export interface ErrorFrame extends Reply {
  type: 'error';
  code: ErrorCode;
  message: string;
  close_code?: number;
}
export interface AckedFrame extends Reply {
  type: 'acked';
  seq: number;
}
export interface ReadFrame extends Reply {
  type: 'read';
  ids?: string[] | null;
  up_to_seq?: number | null;
  all?: boolean;
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
  lines: unknown[];
}
export interface ApprovalFrame extends Reply {
  type: 'approval';
  approval: ApprovalInfo;
}
export interface LearningFrame extends Reply {
  type: 'learning';
  state?: string;
  [key: string]: unknown;
}
export interface StatusFrame extends Reply {
  type: 'status';
  summary: string;
  [key: string]: unknown;
}
export interface ChatReplyFrame extends Reply {
  type: 'chat_reply';
  text: string;
  data?: Record<string, unknown>;
}
export interface HelloFrame extends Reply {
  type: 'hello';
}

export interface ControlFrameMap {
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
  hello: HelloFrame;
}
export type ControlFrame = ControlFrameMap[ControlFrameType];
export type ServerFrame = ControlFrame | NotificationFrame;

/** What each command is answered with (besides an `error`). */
export interface ReplyMap {
  hello: WelcomeFrame;
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

const CONTROL = new Set<string>(CONTROL_FRAMES);

export function isControlFrame(frame: { type: string }): frame is ControlFrame {
  return CONTROL.has(frame.type);
}

export function isNotificationFrame(frame: unknown): frame is NotificationFrame {
  if (typeof frame !== 'object' || frame === null) return false;
  const f = frame as Record<string, unknown>;
  return (
    typeof f.type === 'string' &&
    !CONTROL.has(f.type) &&
    typeof f.seq === 'number' &&
    typeof f.id === 'string'
  );
}

/** Split one WebSocket text message into frames (the server packs several, newline-separated). */
export function parseFrames(text: string): ServerFrame[] {
  const frames: ServerFrame[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') {
      frames.push(value as ServerFrame);
    }
  }
  return frames;
}
