import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientOptions } from 'grace-chat-client';
import { FakeWebSocket, MemoryStorage, approvalInfo, emptyHistory, fakeFetch, note, taskInfo } from '../../packages/client/src/test/fakes';
import { ChatPanel } from './ChatPanel';
import { localTime } from './format';
import { collapseProgress } from './thread';

let http: ReturnType<typeof fakeFetch>;
let options: ClientOptions;
let n = 0;

beforeEach(() => {
  FakeWebSocket.reset();
  http = fakeFetch({ 'GET /api/notifications': emptyHistory });
  // a fresh base URL per test gives a fresh shared session
  options = {
    baseUrl: `http://grace${++n}.test`,
    WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    EventSourceImpl: null,
    fetchImpl: (...args) => http.impl(...args),
    storage: new MemoryStorage(),
  };
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  delete (document as { hidden?: boolean }).hidden;
});

function connect(replay = [] as ReturnType<typeof note>[], unread = 0) {
  act(() => FakeWebSocket.last.greet('alice', 0, [], 'e1', unread));
  if (replay.length) act(() => FakeWebSocket.last.receive(...replay));
}

describe('ChatPanel', () => {
  it('shows notification cards as the seed draws them, styled by severity', () => {
    render(<ChatPanel {...options} />);
    connect([
      note(1, { badge: '🚀', message: 'Deployment task started: task_123', severity: 'info', type: 'task_started' }),
      note(2, { badge: '❌', message: 'Database connection failed', severity: 'error', type: 'error_detected' }),
    ]);
    const cards = screen.getAllByTestId('notification');
    expect(cards).toHaveLength(2);
    expect(cards[0].textContent).toContain('🚀 Task started');
    expect(cards[0].textContent).toContain('Deployment task started: task_123');
    expect(within(cards[0]).getByText(localTime(note(1).timestamp))).toBeTruthy();
    expect(cards[1].className).toContain('sev-error');
    expect(screen.getByTestId('connection').textContent).toBe('Connected');
    expect(screen.getByTestId('unread-count').textContent).toBe('2');
    expect(screen.getByTestId('live-region').textContent).toContain('Database connection failed');
  });

  it('formats the local time like "10:35 AM"', () => {
    expect(localTime('2026-01-15T10:35:00')).toMatch(/^10:35\s?AM$/);
  });

  it('approves from the card and shows the outcome in place', async () => {
    render(<ChatPanel {...options} />);
    connect([
      note(1, {
        type: 'approval_needed',
        badge: '⚠️',
        severity: 'warning',
        message: 'Learning supervisor wants to modify config.yaml',
        data: { approval_id: 'ap1', action_type: 'modify_file', agent: 'learning_supervisor' },
        actions: [
          { id: 'view_details', label: 'View Details' },
          { id: 'approve', label: 'Approve' },
          { id: 'reject', label: 'Reject' },
        ],
      }),
    ]);
    const card = screen.getByTestId('notification');
    expect(within(card).getByText('View Details')).toBeTruthy();
    expect(within(card).getByText('learning_supervisor')).toBeTruthy();
    fireEvent.click(within(card).getByRole('button', { name: 'Approve' }));
    await waitFor(() => expect(FakeWebSocket.last.lastSent('approve')).toBeDefined());
    const cmd = FakeWebSocket.last.lastSent('approve');
    expect(cmd.approval_id).toBe('ap1');
    act(() =>
      FakeWebSocket.last.receive({
        type: 'approval',
        ref: cmd.id,
        approval: approvalInfo('ap1', { state: 'approved', decided_by: 'alice' }),
        decided: true,
      }),
    );
    expect(within(card).getByTestId('approval-outcome').textContent).toContain('Approved by alice');
    expect(within(card).queryByRole('button', { name: 'Approve' })).toBeNull();
  });

  it('shows a decision made in another tab, and a failed decision as an error', async () => {
    render(<ChatPanel {...options} />);
    const ask = (seq: number, id: string) =>
      note(seq, { type: 'approval_needed', message: `approve ${id}?`, data: { approval_id: id } });
    connect([ask(1, 'ap1'), ask(2, 'ap2')]);
    act(() =>
      FakeWebSocket.last.receive(
        note(3, { type: 'action_rejected', message: 'Rejected', data: { approval_id: 'ap1', state: 'rejected' } }),
      ),
    );
    const [first, second] = screen.getAllByTestId('notification');
    expect(within(first).getByTestId('approval-outcome').textContent).toContain('Rejected');
    fireEvent.click(within(second).getByRole('button', { name: 'Reject' }));
    await waitFor(() => expect(FakeWebSocket.last.lastSent('reject')).toBeDefined());
    const cmd = FakeWebSocket.last.lastSent('reject');
    act(() =>
      FakeWebSocket.last.receive({ type: 'error', code: 'forbidden', message: 'not your approval', ref: cmd.id }),
    );
    expect((await within(second).findByRole('alert')).textContent).toBe('Could not reject: not your approval');
  });

  it('lists tasks with status, progress and running time, and cancels from the card', async () => {
    render(<ChatPanel {...options} />);
    connect();
    fireEvent.click(screen.getByRole('button', { name: 'Tasks' }));
    await waitFor(() => expect(FakeWebSocket.last.lastSent('list_tasks')).toBeDefined());
    act(() =>
      FakeWebSocket.last.receive({
        type: 'task_list',
        ref: FakeWebSocket.last.lastSent('list_tasks').id,
        active: 1,
        tasks: [
          taskInfo('task_deploy_123', { progress: 0.4, started_at: null, running_for: '5m 23s' }),
          taskInfo('task_backup_789', { task_type: 'backup', state: 'paused' }),
        ],
      }),
    );
    const card = screen.getByTestId('task-list');
    expect(card.textContent).toContain('Background Tasks (2 active)');
    expect(card.textContent).toContain('Status: Running (5m 23s)');
    expect(within(card).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('40');
    expect(within(card).getByRole('button', { name: 'Resume task_backup_789' })).toBeTruthy();
    fireEvent.click(within(card).getByRole('button', { name: 'Cancel task_deploy_123' }));
    await waitFor(() => expect(FakeWebSocket.last.lastSent('cancel_task')).toMatchObject({ task_id: 'task_deploy_123' }));
    // the task's notifications update the card
    act(() =>
      FakeWebSocket.last.receive(
        note(1, { type: 'task_cancelled', message: 'Task task_deploy_123 has been cancelled', data: { task_id: 'task_deploy_123', state: 'cancelled' } }),
      ),
    );
    expect(within(card).getByText(/Status: Cancelled/)).toBeTruthy();
  });

  it('sends chat sentences to /api/unified/chat and explains when it is not available', async () => {
    render(<ChatPanel {...options} />);
    connect();
    const input = screen.getByLabelText('Message Grace');
    fireEvent.change(input, { target: { value: 'show background tasks' } });
    fireEvent.submit(input.closest('form')!);
    expect(await screen.findByTestId('message-user')).toBeTruthy();
    const reply = await screen.findByTestId('message-grace');
    expect(reply.textContent).toContain('not available on this server yet');
    expect(http.calls.find((c) => c.url.endsWith('/api/unified/chat'))?.body).toEqual({ text: 'show background tasks' });
  });

  it('shows the reply of the unified chat', async () => {
    http = fakeFetch({
      'GET /api/notifications': emptyHistory,
      'POST /api/unified/chat': () => ({
        status: 200,
        body: { text: 'Background Tasks (0 active)', intent: 'list_tasks', data: {} },
      }),
    });
    render(<ChatPanel {...options} />);
    connect();
    const input = screen.getByLabelText('Message Grace');
    fireEvent.change(input, { target: { value: 'show background tasks' } });
    fireEvent.submit(input.closest('form')!);
    expect((await screen.findByTestId('message-grace')).textContent).toContain('Background Tasks (0 active)');
  });

  it('says how to sign in when the server refuses the session', () => {
    render(<ChatPanel {...options} />);
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.serverClose(4401, 'invalid token');
    });
    expect(screen.getByRole('alert').textContent).toContain('Not signed in (invalid token)');
    expect(screen.getByTestId('connection').textContent).toBe('Offline');
  });

  it('asks to sign in again when the token expired and nothing can renew it', () => {
    render(<ChatPanel {...options} />);
    connect();
    act(() => {
      FakeWebSocket.last.receive({ type: 'error', code: 'unauthenticated', message: 'token expired: sign in again' });
      FakeWebSocket.last.serverClose(4401, 'token expired: sign in again');
    });
    expect(screen.getByRole('alert').textContent).toContain('Your session expired: sign in again');
    expect(screen.getByTestId('connection').textContent).toBe('Offline');
  });

  it('says "Too many open tabs" while the server refuses another connection', () => {
    render(<ChatPanel {...options} />);
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: 'error', code: 'rate_limited', message: 'too many connections: at most 32 per user' });
      FakeWebSocket.last.serverClose(4429, 'too many connections: at most 32 per user');
    });
    expect(screen.getByTestId('connection').textContent).toBe('Too many open tabs');
    expect(screen.getByRole('alert').textContent).toContain('Too many open tabs');
  });

  it('restores the thread from history and merges the live stream without duplicates', async () => {
    http = fakeFetch({
      'GET /api/notifications': () => ({
        status: 200,
        body: { items: [note(2), note(1)], seq: 2, first_seq: 1, unread: 2, epoch: 'e1', has_more: false },
      }),
    });
    render(<ChatPanel {...options} />);
    await waitFor(() => expect(screen.getAllByTestId('notification')).toHaveLength(2));
    act(() => FakeWebSocket.last.greet('alice', 2, [], 'e1', 2));
    act(() => FakeWebSocket.last.receive(note(2), note(3)));
    expect(screen.getAllByTestId('notification').map((c) => c.getAttribute('data-seq'))).toEqual(['1', '2', '3']);
  });

  it('raises a desktop notification for live ones while the tab is hidden, once allowed on a click', async () => {
    const shown: { title: string; body?: string }[] = [];
    class FakeNotification {
      static permission: NotificationPermission = 'default';
      static requestPermission = vi.fn(async () => {
        FakeNotification.permission = 'granted';
        return 'granted' as const;
      });
      constructor(title: string, opts?: NotificationOptions) {
        shown.push({ title, body: opts?.body });
      }
    }
    vi.stubGlobal('Notification', FakeNotification);
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    render(<ChatPanel {...options} />);
    connect();
    fireEvent.click(screen.getByRole('button', { name: 'Menu' }));
    fireEvent.click(screen.getByRole('button', { name: 'Enable desktop alerts' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Enable desktop alerts' })).toBeNull());
    expect(FakeNotification.requestPermission).toHaveBeenCalledOnce();
    act(() => FakeWebSocket.last.receive(note(1, { message: 'Deployment finished' })));
    expect(shown).toEqual([{ title: '✅ Task completed', body: 'Deployment finished' }]);
  });

  it('restores the conversation the server keeps', async () => {
    http = fakeFetch({
      'GET /api/notifications': () => ({
        status: 200,
        body: { items: [note(1, { timestamp: '2026-01-15T10:35:01.000Z' })], seq: 1, first_seq: 1, unread: 1, epoch: 'e1', has_more: false },
      }),
      'GET /api/unified/chat/history': () => ({
        status: 200,
        body: {
          items: [
            { kind: 'message', role: 'user', text: 'show background tasks', data: {}, timestamp: '2026-01-15T10:35:00.000Z' },
            { kind: 'notification', timestamp: '2026-01-15T10:35:01.000Z' },
            { kind: 'message', role: 'grace', text: 'No background tasks.', data: {}, timestamp: '2026-01-15T10:35:02.000Z' },
          ],
        },
      }),
    });
    render(<ChatPanel {...options} />);
    const reply = await screen.findByTestId('message-grace');
    expect(reply.textContent).toContain('No background tasks.');
    const thread = screen.getByTestId('thread');
    const order = [...thread.querySelectorAll('[data-testid]')].map((e) => e.getAttribute('data-testid'));
    expect(order).toEqual(['message-user', 'notification', 'message-grace']);
  });

  it('keeps only the latest progress card of a running task, and none once it ended', () => {
    const progress = (seq: number, task: string, p: number) =>
      note(seq, { type: 'task_progress', message: `${task}: ${p * 100}%`, data: { task_id: task, progress: p } });
    const list = [
      note(1, { type: 'task_started', data: { task_id: 'a' } }),
      progress(2, 'a', 0.1),
      progress(3, 'b', 0.1),
      progress(4, 'a', 0.5),
      progress(5, 'b', 0.7),
      note(6, { type: 'task_completed', data: { task_id: 'b' } }),
    ];
    expect(collapseProgress(list).map((n) => n.seq)).toEqual([1, 4, 6]);
    render(<ChatPanel {...options} />);
    connect(list);
    const cards = screen.getAllByTestId('notification');
    expect(cards.map((c) => c.getAttribute('data-seq'))).toEqual(['1', '4', '6']);
    expect(within(cards[1]).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('50');
  });

  it('shows one summary for a long absence, the replayed cards folded under it until asked', async () => {
    const storage = new MemoryStorage();
    // this browser saw seq 0 of alice's log e1: the replay after it waits for its summary
    storage.setItem('grace.user', 'alice');
    storage.setItem('grace.resume.v1:alice', JSON.stringify({ epoch: 'e1', seq: 0 }));
    const missed = [1, 2, 3].map((seq) => note(seq));
    missed.push(note(4, { type: 'approval_needed', message: 'may I deploy?', data: { approval_id: 'ap1' } }));
    http = fakeFetch({
      'GET /api/notifications': () => ({
        status: 200,
        body: { items: missed, seq: 4, first_seq: 1, unread: 4, epoch: 'e1', has_more: false },
      }),
    });
    render(<ChatPanel {...options} storage={storage} />);
    await waitFor(() => expect(http.calls.some((c) => c.url.includes('/api/notifications?'))).toBe(true));
    expect(screen.queryAllByTestId('notification')).toHaveLength(0); // held: the replay is under way
    const ws = FakeWebSocket.last;
    expect(ws.url).toContain('since=0');
    const summary = {
      count: 4, since: 0, first_seq: 1, last_seq: 4,
      first_at: missed[0].timestamp, last_at: missed[3].timestamp,
      by_type: { task_completed: 3, approval_needed: 1 },
      by_severity: { info: 0, success: 4, warning: 0, error: 0 },
      waiting: 1,
      approvals: [{ approval_id: 'ap1', state: 'pending', message: 'may I deploy?', action_type: 'deployment', expires_at: null, seq: 4 }],
      tasks: [], text: '4 notifications while you were away: 1 approval waits for you.',
    };  // prettier-ignore
    act(() => {
      ws.open();
      ws.receive({ type: 'welcome', user_id: 'alice', epoch: 'e1', seq: 4, unread: 4, protocol: 1 }, ...missed, {
        type: 'synced',
        seq: 4,
        summary,
      });
    });
    const digest = screen.getByTestId('digest');
    expect(within(digest).getByTestId('digest-text').textContent).toBe(summary.text);
    expect(screen.queryAllByTestId('notification')).toHaveLength(0);
    fireEvent.click(within(digest).getByRole('button', { name: 'Approve: may I deploy?' }));
    await waitFor(() => expect(ws.lastSent('approve')).toMatchObject({ approval_id: 'ap1' }));
    fireEvent.click(within(digest).getByRole('button', { name: 'Show 4 notifications' }));
    expect(within(digest).getAllByTestId('notification')).toHaveLength(4);
    expect(storage.getItem('grace.digest.v1:alice')).toContain('"first_seq":1');
    fireEvent.click(within(digest).getByRole('button', { name: 'Dismiss summary' }));
    expect(screen.queryByTestId('digest')).toBeNull();
    expect(screen.getAllByTestId('notification')).toHaveLength(4);
    expect(storage.getItem('grace.digest.v1:alice')).toBeNull();
  });

  it('follows the preferences of every chat: muted types hidden and read, archived cards hidden', async () => {
    http = fakeFetch({
      'GET /api/notifications': emptyHistory,
      'POST /api/preferences/archive': (init) => ({ status: 200, body: { changed: JSON.parse(String(init?.body)).ids } }),
    });
    render(<ChatPanel {...options} />);
    connect([note(1), note(2, { type: 'test', message: 'noise' }), note(3)]);
    expect(screen.getAllByTestId('notification')).toHaveLength(3);
    act(() =>
      FakeWebSocket.last.receive({ type: 'preferences', modes: { test: 'mute' }, default: 'alert', archived: [], unarchived: [] }),
    );
    expect(screen.getAllByTestId('notification').map((c) => c.getAttribute('data-seq'))).toEqual(['1', '3']);
    await waitFor(() => expect(FakeWebSocket.last.lastSent('mark_read')).toMatchObject({ ids: ['n2'] }));
    fireEvent.click(within(screen.getAllByTestId('notification')[0]).getByRole('button', { name: /^Archive/ }));
    await waitFor(() => expect(screen.getAllByTestId('notification').map((c) => c.getAttribute('data-seq'))).toEqual(['3']));
    expect(http.calls.find((c) => c.url.endsWith('/api/preferences/archive'))?.body).toEqual({ ids: ['n1'] });
    // unarchived in another tab: back here too
    act(() =>
      FakeWebSocket.last.receive({ type: 'preferences', modes: {}, default: 'alert', archived: [], unarchived: ['n1'] }),
    );
    expect(screen.getAllByTestId('notification').map((c) => c.getAttribute('data-seq'))).toEqual(['1', '2', '3']);
  });

  it('draws a task list reply from its intent and data, live and restored alike', async () => {
    const tasks = [taskInfo('task_backup_789', { task_type: 'backup', state: 'paused' })];
    http = fakeFetch({
      'GET /api/notifications': emptyHistory,
      'GET /api/unified/chat/history': () => ({
        status: 200,
        body: {
          items: [
            { kind: 'message', role: 'user', text: 'show background tasks', intent: null, data: {}, timestamp: '2026-01-15T10:35:00.000Z' },
            { kind: 'message', role: 'grace', text: 'Background Tasks (0 active)', intent: 'list_tasks', data: { tasks, active: 0 }, timestamp: '2026-01-15T10:35:01.000Z' },
          ],
        },
      }),
    });  // prettier-ignore
    render(<ChatPanel {...options} />);
    const reply = await screen.findByTestId('message-grace');
    const row = await within(reply).findByTestId('task');
    expect(row.getAttribute('data-task-id')).toBe('task_backup_789');
    expect(reply.querySelector('.text')).toBeNull();
  });
});
