import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientOptions } from './client.js';
import { GraceError } from './errors.js';
import { FakeWebSocket, MemoryStorage, approvalInfo, emptyHistory, fakeFetch, note, taskInfo } from './test/fakes.js';
import { useNotifications, type UseNotifications } from './useNotifications.js';

let http: ReturnType<typeof fakeFetch>;
let options: ClientOptions;
let n = 0;

beforeEach(() => {
  FakeWebSocket.reset();
  http = fakeFetch({ 'GET /api/notifications': emptyHistory });
  // a fresh base URL per test gives a fresh shared session
  options = {
    baseUrl: `http://hook${++n}.test`,
    WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    EventSourceImpl: null,
    fetchImpl: (...args) => http.impl(...args),
    storage: new MemoryStorage(),
  };
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function Probe({ label, into }: { label: string; into?: (g: UseNotifications) => void }) {
  const g = useNotifications(options);
  into?.(g);
  return (
    <p data-testid={label}>
      {g.connected ? 'on' : 'off'}:{g.notifications.map((x) => x.seq).join(',')}:{g.unread}
    </p>
  );
}

/** The hook as a mounted component sees it, connected. */
function mounted(): () => UseNotifications {
  let latest: UseNotifications | null = null;
  render(<Probe label="g" into={(g) => (latest = g)} />);
  act(() => FakeWebSocket.last.greet());
  return () => latest!;
}

/** Answer the last command of `type` sent with `reply`, as the server would (with its ref). */
function answer(type: string, reply: object) {
  const ref = FakeWebSocket.last.lastSent(type).id;
  act(() => FakeWebSocket.last.receive({ ...reply, ref }));
}

describe('useNotifications', () => {
  it('shares one connection between components; the last unmount closes it', () => {
    vi.useFakeTimers();
    const a = render(<Probe label="a" />);
    const b = render(<Probe label="b" />);
    expect(FakeWebSocket.instances).toHaveLength(1);
    act(() => FakeWebSocket.last.greet('alice', 0, [note(1), note(2)], 'e1', 2));
    expect(screen.getByTestId('a').textContent).toBe('on:1,2:2');
    expect(screen.getByTestId('b').textContent).toBe('on:1,2:2');
    a.unmount();
    act(() => vi.runOnlyPendingTimers());
    expect(FakeWebSocket.last.closed).toBeNull();
    b.unmount();
    act(() => vi.runOnlyPendingTimers());
    expect(FakeWebSocket.last.closed).not.toBeNull();
  });

  it('resolves listTasks with the task_list frame, which also becomes the task list', async () => {
    const g = mounted();
    const reply = g().listTasks();
    await act(async () => {});
    const tasks = [taskInfo('t1'), taskInfo('t2', { state: 'succeeded' })];
    answer('list_tasks', { type: 'task_list', tasks, active: 1 });
    const frame = await reply;
    expect(frame.type).toBe('task_list');
    expect(frame.active).toBe(1);
    expect(frame.tasks.map((t) => t.title)).toEqual(['Deployment', 'Deployment']);
    expect(g().tasks).toEqual(tasks);
  });

  it('resolves approve and reject with the approval frame, and the outcome is kept', async () => {
    const g = mounted();
    const approved = g().approve('ap1', 'fine');
    await act(async () => {});
    expect(FakeWebSocket.last.lastSent('approve')).toMatchObject({ approval_id: 'ap1', reason: 'fine' });
    answer('approve', { type: 'approval', approval: approvalInfo('ap1', { state: 'approved', decided_by: 'alice' }), decided: true });
    const frame = await approved;
    expect(frame.decided).toBe(true);
    expect(frame.approval.state).toBe('approved');
    expect(g().approvals.ap1).toMatchObject({ state: 'approved', decided_by: 'alice' });

    const again = g().reject('ap1');
    await act(async () => {});
    answer('reject', { type: 'approval', approval: approvalInfo('ap1', { state: 'approved' }), decided: false });
    expect((await again).decided).toBe(false);
  });

  it('resolves the other commands with their typed replies', async () => {
    const g = mounted();
    const read = g().markRead();
    const cancelled = g().cancelTask('t1');
    const paused = g().pauseLearning();
    const status = g().status();
    await act(async () => {});
    expect(FakeWebSocket.last.lastSent('mark_read')).toMatchObject({ all: true });
    answer('mark_read', { type: 'read', ids: [], up_to_seq: null, all: true, marked: 3, unread: 0 });
    answer('cancel_task', { type: 'task', task: taskInfo('t1', { state: 'cancelling' }) });
    answer('pause_learning', { type: 'learning', state: 'paused', waiting: 2, changed: true });
    answer('status', { type: 'status', summary: 'Grace is idle.', tasks: { running: [] } });
    expect((await read).marked).toBe(3);
    expect((await cancelled).task.state).toBe('cancelling');
    expect(await paused).toMatchObject({ state: 'paused', waiting: 2, changed: true });
    const s = await status;
    expect(s.summary).toBe('Grace is idle.');
    expect(s.tasks).toEqual({ running: [] });
  });

  it('rejects with a GraceError carrying the server’s code', async () => {
    const g = mounted();
    const failed = g().approve('nope');
    await act(async () => {});
    answer('approve', { type: 'error', code: 'not_found', message: 'no approval nope' });
    const err = await failed.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraceError);
    expect(err).toMatchObject({ code: 'not_found', message: 'no approval nope' });
  });

  it('rejects a reply of the wrong type instead of passing it off as the right one', async () => {
    const g = mounted();
    const tasks = g().listTasks();
    await act(async () => {});
    answer('list_tasks', { type: 'pong' });
    await expect(tasks).rejects.toMatchObject({ code: 'internal' });
    expect(g().tasksError).toBe("the server answered 'list_tasks' with 'pong'");
  });

  it('marks seen cards read once: not again while asked, never a read one', () => {
    let latest: UseNotifications | null = null;
    render(<Probe label="g" into={(g) => (latest = g)} />);
    act(() => FakeWebSocket.last.greet('alice', 0, [note(1), note(2, { read: true }), note(3)], 'e1', 2));
    const g = () => latest!;
    act(() => g().markSeen(['n1', 'n2', 'n1']));
    expect(FakeWebSocket.last.sent.filter((f) => f.type === 'mark_read').map((f) => f.ids)).toEqual([['n1']]);
    act(() => g().markSeen(['n1'])); // still waiting for the answer: not asked twice
    expect(FakeWebSocket.last.sent.filter((f) => f.type === 'mark_read')).toHaveLength(1);
    answer('mark_read', { type: 'read', ids: ['n1'], up_to_seq: null, all: false, marked: 1, unread: 1 });
    expect(g().unread).toBe(1);
    expect(g().notifications.find((x) => x.id === 'n1')?.read).toBe(true);
    act(() => g().markSeen(['n1', 'n3']));
    expect(FakeWebSocket.last.lastSent('mark_read').ids).toEqual(['n3']);
  });

  it('keeps the away summary of the last long absence until it is dismissed', () => {
    const storage = new MemoryStorage();
    options = { ...options, storage };
    const g = mounted();
    const summary = {
      count: 2, since: 0, first_seq: 1, last_seq: 2, first_at: note(1).timestamp, last_at: note(2).timestamp,
      by_type: { task_completed: 2 }, by_severity: { info: 0, success: 2, warning: 0, error: 0 },
      waiting: 0, approvals: [], tasks: [], text: '2 notifications while you were away.',
    };  // prettier-ignore
    act(() => FakeWebSocket.last.receive(note(1), note(2), { type: 'synced', seq: 2, summary }));
    expect(g().digest).toEqual(summary);
    expect(JSON.parse(storage.getItem('grace.digest.v1:alice')!)).toEqual({ epoch: 'e1', summary });
    act(() => g().dismissDigest());
    expect(g().digest).toBeNull();
    expect(storage.getItem('grace.digest.v1:alice')).toBeNull();
  });
});
