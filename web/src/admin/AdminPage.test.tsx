import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approvalInfo, fakeFetch, taskInfo } from '../../packages/client/src/test/fakes';
import { AdminPage } from './AdminPage';
import { isAdminLocation, type Overview } from './overview';

function overview(over: Partial<Overview> = {}): Overview {
  return {
    generated_at: '2026-01-01T10:00:00Z',
    connections: { websocket: 2, sse: 1 },
    users: [
      { user_id: 'ann', connections: 2, transports: { websocket: 2 } },
      { user_id: 'bob', connections: 1, transports: { sse: 1 } },
    ],
    tasks: [{ ...taskInfo('task_1', { title: 'Backup', state: 'running', progress: 0.4 }), user_id: 'bob' }],
    approvals: [{ ...approvalInfo('ap_1', { message: 'Modify a.yaml' }), user_id: 'ann' }],
    guardian: true,
    incidents: [{ check: 'db', severity: 'error', message: 'Health check db failed', opened_at: '2026-01-01T09:58:00Z' }],
    history: [
      { at: '2026-01-01T09:58:00Z', action: 'error_detected', check: 'db', severity: 'error', message: 'Health check db failed' },
    ],
    ...over,
  };
}

beforeEach(() => sessionStorage.clear());
afterEach(cleanup);

describe('the operator view', () => {
  it('shows connections per transport, tasks, approvals and incidents across users', async () => {
    const http = fakeFetch({ 'GET /api/admin/overview': () => ({ status: 200, body: overview() }) });
    render(<AdminPage initialToken="admin-token" fetchImpl={http.impl} />);

    const users = await screen.findByTestId('users');
    const ann = within(users).getByRole('row', { name: /ann/ });
    expect(within(ann).getAllByRole('cell').map((c) => c.textContent)).toEqual(['2', '0', '2']);
    const bob = within(users).getByRole('row', { name: /bob/ });
    expect(within(bob).getAllByRole('cell').map((c) => c.textContent)).toEqual(['0', '1', '1']);
    expect(screen.getByText('2 users, 3 connections')).toBeTruthy();
    const task = within(screen.getByTestId('tasks')).getByRole('row', { name: /Backup/ });
    expect(task.textContent).toContain('bob');
    expect(task.textContent).toContain('40%');
    expect(within(screen.getByTestId('approvals')).getByRole('row', { name: /Modify a.yaml/ }).textContent).toContain('ann');
    expect(screen.getByTestId('incidents').textContent).toContain('Health check db failed');
    expect(screen.getByTestId('history').textContent).toContain('error detected');
    expect(screen.getByTestId('updated').textContent).toMatch(/^Updated /);
    expect(http.calls[0].url).toMatch(/\/api\/admin\/overview$/);
    expect(sessionStorage.getItem('grace.admin.token')).toBe('admin-token');
  });

  it('refreshes on its own: a task started later appears', async () => {
    let body = overview({ tasks: [] });
    const http = fakeFetch({ 'GET /api/admin/overview': () => ({ status: 200, body }) });
    render(<AdminPage initialToken="t" fetchImpl={http.impl} pollMs={20} />);
    expect(await screen.findByText('No task is running.')).toBeTruthy();
    body = overview();
    expect(await screen.findByTestId('tasks')).toBeTruthy();
    expect(http.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the last view and says so when a refresh fails, then recovers', async () => {
    let status = 200;
    const http = fakeFetch({
      'GET /api/admin/overview': () =>
        status === 200 ? { status, body: overview() } : { status, body: { error: { code: 'internal', message: 'boom' } } },
    });
    render(<AdminPage initialToken="t" fetchImpl={http.impl} pollMs={20} />);
    await screen.findByTestId('users');
    status = 500;
    expect((await screen.findByRole('alert')).textContent).toContain('boom');
    expect(screen.getByTestId('users')).toBeTruthy();
    status = 200;
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
  });

  it('asks for a token, and asks again when the one given is not an admin token', async () => {
    const http = fakeFetch({
      'GET /api/admin/overview': (init) => {
        const auth = new Headers(init?.headers).get('Authorization');
        return auth === 'Bearer good'
          ? { status: 200, body: overview() }
          : { status: 403, body: { error: { code: 'forbidden', message: 'this endpoint needs an admin token' } } };
      },
    });
    render(<AdminPage fetchImpl={http.impl} />);
    const input = screen.getByLabelText('Admin token');
    fireEvent.change(input, { target: { value: 'user-token' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('admin token');
    expect(sessionStorage.getItem('grace.admin.token')).toBeNull();

    fireEvent.change(screen.getByLabelText('Admin token'), { target: { value: 'good' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('users')).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(screen.getByLabelText('Admin token')).toBeTruthy();
    expect(sessionStorage.getItem('grace.admin.token')).toBeNull();
  });

  it('says when nothing is going on, and when the guardian does not run', async () => {
    const empty = overview({ users: [], tasks: [], approvals: [], incidents: [], history: [], connections: {}, guardian: false });
    const http = fakeFetch({ 'GET /api/admin/overview': () => ({ status: 200, body: empty }) });
    render(<AdminPage initialToken="t" fetchImpl={http.impl} />);
    expect(await screen.findByText('Nobody is connected.')).toBeTruthy();
    expect(screen.getByText('No approval is waiting.')).toBeTruthy();
    expect(screen.getByText('The guardian does not run in this Grace.')).toBeTruthy();
  });

  it('lives at /admin (under any prefix) or #/admin', () => {
    expect(isAdminLocation({ pathname: '/admin', hash: '' })).toBe(true);
    expect(isAdminLocation({ pathname: '/grace/admin/', hash: '' })).toBe(true);
    expect(isAdminLocation({ pathname: '/', hash: '#/admin' })).toBe(true);
    expect(isAdminLocation({ pathname: '/', hash: '' })).toBe(false);
    expect(isAdminLocation({ pathname: '/administrator', hash: '' })).toBe(false);
  });
});
