import { describe, expect, it } from 'vitest';
import type { RestOptions } from './api.js';
import { GraceError } from './errors.js';
import type { ReplyMap } from './frames.js';
import type { CommandMap, SendableCommandType } from './protocol.js';
import { commandOverRest, REST_ROUTES } from './restRoutes.js';
import { approvalInfo, taskInfo } from './test/fakes.js';

type Case<K extends SendableCommandType = SendableCommandType> = {
  command: CommandMap[K];
  request: string;
  body?: unknown;
  response: unknown;
  reply: ReplyMap[K];
};

const task = taskInfo('t 1', { state: 'paused' });
const approval = approvalInfo('ap/1', { state: 'rejected' });
const learning = {
  type: 'learning',
  scope: 'own',
  state: 'paused',
  waiting: 1,
  effective: 'paused',
  changed: true,
} as const;

/** Each command, the request it becomes and the frame its response becomes. */
const CASES: Case[] = [
  {
    command: { type: 'mark_read', ids: ['n1'] },
    request: 'POST /api/notifications/read',
    body: { ids: ['n1'], up_to_seq: null, all: false },
    response: { marked: 1, unread: 4 },
    reply: { type: 'read', ids: ['n1'], up_to_seq: null, all: false, marked: 1, unread: 4 },
  },
  {
    command: { type: 'list_tasks', include_finished: false },
    request: 'GET /api/tasks?include_finished=false',
    response: { tasks: [task], active: 1 },
    reply: { type: 'task_list', tasks: [task], active: 1 },
  },
  { command: { type: 'cancel_task', task_id: 't 1' }, request: 'POST /api/tasks/t%201/cancel', response: task, reply: { type: 'task', task } },
  { command: { type: 'pause_task', task_id: 't 1' }, request: 'POST /api/tasks/t%201/pause', response: task, reply: { type: 'task', task } },
  { command: { type: 'resume_task', task_id: 't 1' }, request: 'POST /api/tasks/t%201/resume', response: task, reply: { type: 'task', task } },
  {
    command: { type: 'task_logs', task_id: 't 1', limit: 5 },
    request: 'GET /api/tasks/t%201/logs?limit=5',
    response: { task_id: 't 1', lines: [{ t: 1.5, line: 'started' }] },
    reply: { type: 'task_logs', task_id: 't 1', lines: [{ t: 1.5, line: 'started' }] },
  },
  {
    command: { type: 'start_task', task_type: 'backup' },
    request: 'POST /api/tasks',
    body: { task_type: 'backup', params: {} },
    response: task,
    reply: { type: 'task', task },
  },
  { command: { type: 'pause_learning' }, request: 'POST /api/learning/pause', response: learning, reply: learning },
  { command: { type: 'resume_learning' }, request: 'POST /api/learning/resume', response: learning, reply: learning },
  {
    command: { type: 'approve', approval_id: 'ap/1', reason: 'ok' },
    request: 'POST /api/approvals/ap%2F1/approve',
    body: { reason: 'ok' },
    response: { approval, decided: false },
    reply: { type: 'approval', approval, decided: false },
  },
  {
    command: { type: 'reject', approval_id: 'ap/1' },
    request: 'POST /api/approvals/ap%2F1/reject',
    body: {},
    response: { approval, decided: true },
    reply: { type: 'approval', approval, decided: true },
  },
  {
    command: { type: 'status' },
    request: 'GET /api/status',
    response: { type: 'status', summary: 'Grace is idle.', tasks: {} },
    reply: { type: 'status', summary: 'Grace is idle.', tasks: {} },
  },
  {
    command: { type: 'chat', text: 'hi' },
    request: 'POST /api/unified/chat',
    body: { text: 'hi' },
    response: { text: 'Hello.', intent: null, data: {} },
    reply: { type: 'chat_reply', text: 'Hello.', intent: null, data: {} },
  },
];

/** A server answering every request with `response`, and the requests it got. */
function server(response: unknown, status = 200) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const opts: RestOptions = {
    baseUrl: 'http://grace.test',
    fetchImpl: async (input, init) => {
      calls.push({ method: init?.method ?? 'GET', url: String(input), body: init?.body ? JSON.parse(String(init.body)) : undefined });
      return new Response(JSON.stringify(response), { status, headers: { 'Content-Type': 'application/json' } });
    },
  };
  return { opts, calls };
}

describe('commands over REST', () => {
  it('has a case here for every route in the table', () => {
    expect(CASES.map((c) => c.command.type).sort()).toEqual(Object.keys(REST_ROUTES).sort());
  });

  it.each(CASES.map((c) => [c.command.type, c] as const))('sends %s as the table says and answers with its frame', async (_, c) => {
    const { opts, calls } = server(c.response);
    await expect(commandOverRest(opts, c.command)).resolves.toEqual(c.reply);
    expect(calls).toHaveLength(1);
    const [method, path] = c.request.split(' ');
    expect(calls[0]).toEqual({ method, url: `http://grace.test${path}`, body: c.body });
  });

  it('answers ping itself and refuses what has no route', async () => {
    const { opts, calls } = server({});
    await expect(commandOverRest(opts, { type: 'ping' })).resolves.toEqual({ type: 'pong' });
    await expect(commandOverRest(opts, { type: 'ack', seq: 1 })).rejects.toMatchObject({ code: 'unavailable' });
    expect(calls).toEqual([]);
  });

  it('rejects with the server’s error code and the HTTP status', async () => {
    const { opts } = server({ error: { code: 'conflict', message: 'task t 1 is cancelled' } }, 409);
    const err = await commandOverRest(opts, { type: 'pause_task', task_id: 't 1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraceError);
    expect(err).toMatchObject({ code: 'conflict', message: 'task t 1 is cancelled', status: 409 });
    const odd = server({ error: { code: 'teapot', message: 'short and stout' } }, 418);
    await expect(commandOverRest(odd.opts, { type: 'status' })).rejects.toMatchObject({ code: 'internal', status: 418 });
  });
});
