/**
 * Protocol v1 as the TypeScript client sees it: the codes and the client's commands (the server's
 * frames are in `frames.ts`). The server publishes the same protocol as JSON Schema
 * (`grace_chat.protocol.protocol_schema()`, committed as `protocol.schema.json`); the tests in
 * `protocol.test.ts` fail when these declarations (listed field by field in `schemaFields.ts`)
 * and that schema drift apart, and `tests/test_protocol_schema.py` fails when the committed
 * schema and the server drift apart.
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
  'preferences',
  'read',
  'status',
  'synced',
  'task',
  'task_list',
  'task_logs',
  'welcome',
] as const;

export type Ref = string | number;

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
  /** The caller's own learning (`own`, the default) or everyone's (`all`: admins only). */
  scope?: 'own' | 'all';
}
export interface ResumeLearningCommand extends Base {
  type: 'resume_learning';
  /** The caller's own learning (`own`, the default) or everyone's (`all`: admins only). */
  scope?: 'own' | 'all';
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
/** The commands answered by a reply matched by `ref` (hello only opens a connection). */
export type SendableCommandType = Exclude<CommandType, 'hello'>;
