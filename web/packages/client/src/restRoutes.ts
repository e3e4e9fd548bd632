/**
 * The protocol's commands over REST, for when there is no WebSocket to send them on (the SSE
 * fallback) and for the chat, which always talks over REST. One table: each command's method,
 * path and body, and how the response becomes the frame the WebSocket would have answered with.
 */
import { rest, type HttpMethod, type RestOptions } from './api.js';
import { GraceError } from './errors.js';
import type { ApprovalInfo, LearningFrame, LogLine, ReplyMap, StatusFrame, TaskFrame, TaskInfo } from './frames.js';
import type { CommandMap, SendableCommandType } from './protocol.js';

/** What each route answers (learning and status answer with the protocol's frame itself). */
interface RestResponses {
  mark_read: { marked: number; unread: number };
  list_tasks: { tasks: TaskInfo[]; active: number };
  cancel_task: TaskInfo;
  pause_task: TaskInfo;
  resume_task: TaskInfo;
  task_logs: { task_id: string; lines: LogLine[] };
  start_task: TaskInfo;
  pause_learning: LearningFrame;
  resume_learning: LearningFrame;
  approve: { approval: ApprovalInfo; decided: boolean };
  reject: { approval: ApprovalInfo; decided: boolean };
  status: StatusFrame;
  chat: { text: string; intent: string | null; data: Record<string, unknown> };
}
type RestCommandType = keyof RestResponses;

interface RestRoute<K extends RestCommandType> {
  method: HttpMethod;
  path: (command: CommandMap[K]) => string;
  body?: (command: CommandMap[K]) => unknown;
  reply: (response: RestResponses[K], command: CommandMap[K]) => ReplyMap[K];
}

const enc = encodeURIComponent;
const asTask = (task: TaskInfo): TaskFrame => ({ type: 'task', task });
const taskControl = (verb: 'cancel' | 'pause' | 'resume') => ({
  method: 'POST' as const,
  path: (c: { task_id: string }) => `/api/tasks/${enc(c.task_id)}/${verb}`,
  reply: asTask,
});
const decision = (verb: 'approve' | 'reject') => ({
  method: 'POST' as const,
  path: (c: { approval_id: string }) => `/api/approvals/${enc(c.approval_id)}/${verb}`,
  body: (c: { reason?: string | null }) => (c.reason ? { reason: c.reason } : {}),
  reply: (res: RestResponses[typeof verb]) => ({ type: 'approval' as const, ...res }),
});
const learning = (verb: 'pause' | 'resume') => ({
  method: 'POST' as const,
  path: () => `/api/learning/${verb}`,
  reply: (frame: LearningFrame) => frame,
});

export const REST_ROUTES: { [K in RestCommandType]: RestRoute<K> } = {
  mark_read: {
    method: 'POST',
    path: () => '/api/notifications/read',
    body: (c) => ({ ids: c.ids ?? null, up_to_seq: c.up_to_seq ?? null, all: c.all ?? false }),
    reply: (res, c) => ({ type: 'read', ids: c.ids ?? [], up_to_seq: c.up_to_seq ?? null, all: c.all ?? false, ...res }),
  },
  list_tasks: {
    method: 'GET',
    path: (c) => `/api/tasks?include_finished=${c.include_finished ?? true}`,
    reply: (res) => ({ type: 'task_list', ...res }),
  },
  cancel_task: taskControl('cancel'),
  pause_task: taskControl('pause'),
  resume_task: taskControl('resume'),
  task_logs: {
    method: 'GET',
    path: (c) => `/api/tasks/${enc(c.task_id)}/logs` + (c.limit ? `?limit=${c.limit}` : ''),
    reply: (res) => ({ type: 'task_logs', ...res }),
  },
  start_task: {
    method: 'POST',
    path: () => '/api/tasks',
    body: (c) => ({ task_type: c.task_type, params: c.params ?? {} }),
    reply: asTask,
  },
  pause_learning: learning('pause'),
  resume_learning: learning('resume'),
  approve: decision('approve'),
  reject: decision('reject'),
  status: { method: 'GET', path: () => '/api/status', reply: (frame) => frame },
  chat: {
    method: 'POST',
    path: () => '/api/unified/chat',
    body: (c) => ({ text: c.text }),
    reply: (res) => ({ type: 'chat_reply', ...res }),
  },
};

function isRestCommand(type: SendableCommandType): type is RestCommandType {
  return type in REST_ROUTES;
}

/** Send one command over REST and answer with the frame the WebSocket would have sent. */
export async function commandOverRest<K extends SendableCommandType>(
  opts: RestOptions,
  command: CommandMap[K],
): Promise<ReplyMap[K]> {
  const type: SendableCommandType = command.type;
  if (type === 'ping') return { type: 'pong' } as ReplyMap[K]; // nothing to ask: SSE keeps itself alive
  if (!isRestCommand(type)) throw new GraceError('unavailable', `'${type}' needs the WebSocket connection`);
  // the table pairs each command type with its own route; TypeScript cannot follow K through it
  const route = REST_ROUTES[type] as unknown as RestRoute<RestCommandType>;
  const c = command as CommandMap[RestCommandType];
  const response = await rest<RestResponses[RestCommandType]>(opts, route.method, route.path(c), route.body?.(c));
  return route.reply(response, c) as ReplyMap[K];
}
