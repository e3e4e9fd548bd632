/**
 * The protocol's declarations as data, for `protocol.test.ts` to compare with the server's JSON
 * Schema: every field of every command, frame and nested object, whether it is always present,
 * and every enumeration. The mapped types make each list exactly the fields of its TypeScript
 * declaration, marked `optional` exactly where the declaration says `?:`, so the declarations,
 * these lists and the schema cannot drift apart without a compile error or a failing test.
 */
import type {
  ApprovalInfo,
  AwaySummary,
  LogLine,
  NotificationAction,
  ServerFrameMap,
  SeverityCounts,
  SummaryApproval,
  SummaryTask,
  TaskInfo,
} from './frames.js';
import {
  APPROVAL_STATES,
  LEARNING_STATES,
  NOTIFICATION_MODES,
  SEVERITIES,
  TASK_ENDS,
  TASK_STATES,
} from './frames.js';
import { ERROR_CODES, type CommandMap, type CommandType } from './protocol.js';

/** The keys a type declares by name (an index signature, as on `StatusFrame`, is left out). */
type DeclaredKeys<T> = keyof {
  [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K];
};
type Presence<T, K extends keyof T> = {} extends Pick<T, K> ? 'optional' : 'required';
type FieldSpec<T> = { [K in DeclaredKeys<T>]-?: Presence<T, K & keyof T> };

export const COMMAND_FIELDS: { [K in CommandType]: FieldSpec<CommandMap[K]> } = {
  hello: { type: 'required', id: 'optional', token: 'optional', since: 'optional' },
  ping: { type: 'required', id: 'optional' },
  ack: { type: 'required', id: 'optional', seq: 'required' },
  mark_read: { type: 'required', id: 'optional', ids: 'optional', up_to_seq: 'optional', all: 'optional' },
  list_tasks: { type: 'required', id: 'optional', include_finished: 'optional' },
  cancel_task: { type: 'required', id: 'optional', task_id: 'required' },
  pause_task: { type: 'required', id: 'optional', task_id: 'required' },
  resume_task: { type: 'required', id: 'optional', task_id: 'required' },
  task_logs: { type: 'required', id: 'optional', task_id: 'required', limit: 'optional' },
  start_task: {
    type: 'required',
    id: 'optional',
    task_type: 'required',
    params: 'optional',
    task_id: 'optional',
  },
  pause_learning: { type: 'required', id: 'optional', scope: 'optional' },
  resume_learning: { type: 'required', id: 'optional', scope: 'optional' },
  approve: { type: 'required', id: 'optional', approval_id: 'required', reason: 'optional' },
  reject: { type: 'required', id: 'optional', approval_id: 'required', reason: 'optional' },
  status: { type: 'required', id: 'optional' },
  chat: { type: 'required', id: 'optional', text: 'required' },
};

const R = 'required';
const O = 'optional';

export const FRAME_FIELDS: { [K in keyof ServerFrameMap]: FieldSpec<ServerFrameMap[K]> } = {
  welcome: { type: R, user_id: R, epoch: R, seq: R, unread: R, protocol: R },
  synced: { type: R, seq: R, gap: O, summary: O },
  pong: { type: R, ref: O },
  error: { type: R, ref: O, code: R, message: R, close_code: O },
  acked: { type: R, ref: O, seq: R },
  read: { type: R, ref: O, ids: R, up_to_seq: R, all: R, marked: R, unread: R },
  task_list: { type: R, ref: O, tasks: R, active: R },
  task: { type: R, ref: O, task: R },
  task_logs: { type: R, ref: O, task_id: R, lines: R },
  approval: { type: R, ref: O, approval: R, decided: R },
  learning: { type: R, ref: O, scope: R, state: R, waiting: R, effective: R, changed: R },
  status: { type: R, ref: O, summary: R },
  chat_reply: { type: R, ref: O, text: R, intent: R, data: R },
  preferences: { type: R, modes: R, default: R, archived: R, unarchived: R },
  notification: {
    type: R,
    id: R,
    seq: R,
    title: R,
    message: R,
    badge: R,
    severity: R,
    timestamp: R,
    data: R,
    actions: R,
    read: R,
  },
};

/** Frames that may carry fields beyond those declared. */
export const OPEN_FRAMES: (keyof ServerFrameMap)[] = ['status'];

/** The objects frames carry, by their name in the schema's `$defs`. */
export const OBJECT_FIELDS: {
  TaskInfo: FieldSpec<TaskInfo>;
  ApprovalInfo: FieldSpec<ApprovalInfo>;
  LogLine: FieldSpec<LogLine>;
  NotificationAction: FieldSpec<NotificationAction>;
  AwaySummary: FieldSpec<AwaySummary>;
  SeverityCounts: FieldSpec<SeverityCounts>;
  SummaryApproval: FieldSpec<SummaryApproval>;
  SummaryTask: FieldSpec<SummaryTask>;
} = {
  TaskInfo: {
    task_id: R,
    task_type: R,
    title: R,
    state: R,
    progress: R,
    note: R,
    params: R,
    created_at: R,
    started_at: R,
    finished_at: R,
    duration_seconds: R,
    running_for: R,
    pause_requested: R,
    result: R,
    error: R,
  },
  ApprovalInfo: {
    approval_id: R,
    user_id: R,
    action_type: R,
    agent: R,
    params: R,
    trace_id: R,
    message: R,
    state: R,
    created_at: R,
    expires_at: R,
    decided_at: R,
    decided_by: R,
    reason: R,
  },
  LogLine: { t: R, line: R },
  NotificationAction: { id: R, label: R },
  AwaySummary: {
    count: R,
    since: R,
    first_seq: R,
    last_seq: R,
    first_at: R,
    last_at: R,
    by_type: R,
    by_severity: R,
    waiting: R,
    approvals: R,
    tasks: R,
    text: R,
  },
  SeverityCounts: { info: R, success: R, warning: R, error: R },
  SummaryApproval: { approval_id: R, state: R, message: R, action_type: R, expires_at: R, seq: R },
  SummaryTask: { task_id: R, state: R, message: R, task_type: R, title: R, error: R, seq: R },
};

/** Every enumerated field of the frames and their objects ("frame.field" or "Object.field"). */
export const ENUMERATIONS: Record<string, readonly string[]> = {
  'error.code': ERROR_CODES,
  'notification.severity': SEVERITIES,
  'learning.scope': ['own', 'all'],
  'learning.state': LEARNING_STATES,
  'learning.effective': LEARNING_STATES,
  'TaskInfo.state': TASK_STATES,
  'ApprovalInfo.state': APPROVAL_STATES,
  'preferences.default': NOTIFICATION_MODES,
  'SummaryApproval.state': APPROVAL_STATES,
  'SummaryTask.state': TASK_ENDS,
};
