/**
 * The operator view (`/admin`): who is connected and how, the tasks running for every user, the
 * approvals waiting, and the guardian's incidents. Signed in with an admin token; refreshed every
 * `POLL_MS` while open, with the time of the last answer shown.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { describeError, GraceError } from 'grace-chat-client';
import { localTime } from '../components/format';
import { adminToken, fetchOverview, POLL_MS, type Overview } from './overview';

interface Props {
  /** A token from the address (`/admin?token=…`), already removed from it. */
  initialToken?: string | null;
  fetchImpl?: typeof fetch;
  pollMs?: number;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function refused(err: unknown): boolean {
  return err instanceof GraceError && (err.code === 'unauthenticated' || err.code === 'forbidden');
}

export function AdminPage({ initialToken = null, fetchImpl, pollMs = POLL_MS }: Props) {
  const [token, setToken] = useState<string | null>(() => initialToken ?? adminToken.get());
  const [overview, setOverview] = useState<Overview | null>(null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [signInError, setSignInError] = useState<string | null>(null);

  useEffect(() => {
    adminToken.set(token);
    if (!token) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await fetchOverview(token, fetchImpl);
        if (stopped) return;
        setOverview(next);
        setUpdatedAt(new Date());
        setError(null);
      } catch (err) {
        if (stopped) return;
        if (refused(err)) {
          setSignInError(describeError(err));
          setOverview(null);
          setToken(null);
          return;
        }
        setError(describeError(err));
      }
      timer = setTimeout(() => void poll(), pollMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [token, fetchImpl, pollMs]);

  if (!token) return <SignIn error={signInError} onToken={(t) => (setSignInError(null), setToken(t))} />;
  return (
    <main className="admin">
      <header className="admin-header">
        <h1>Grace · operator view</h1>
        <p className="admin-updated" data-testid="updated">
          {updatedAt ? `Updated ${timeFormat.format(updatedAt)}` : 'Loading…'}
          {error && <span className="admin-error" role="alert"> · {error}</span>}
        </p>
        <button type="button" onClick={() => (setOverview(null), setUpdatedAt(null), setToken(null))}>
          Sign out
        </button>
      </header>
      {overview && <Sections overview={overview} />}
    </main>
  );
}

function SignIn({ error, onToken }: { error: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onToken(value.trim());
  };
  return (
    <main className="admin">
      <h1>Grace · operator view</h1>
      <form className="admin-signin" onSubmit={submit}>
        <label htmlFor="admin-token">Admin token</label>
        <input
          id="admin-token"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit">Sign in</button>
        <p className="admin-hint">
          Create one with <code>grace token YOUR_NAME --admin</code>.
        </p>
        {error && (
          <p className="admin-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function Sections({ overview }: { overview: Overview }) {
  const { users, tasks, approvals, incidents, history, connections } = overview;
  const transports = [...new Set(['websocket', 'sse', ...Object.keys(connections)])];
  const total = Object.values(connections).reduce((a, b) => a + b, 0);
  return (
    <>
      <section aria-labelledby="admin-connections">
        <h2 id="admin-connections">
          Connected users <span className="admin-count">{users.length} users, {total} connections</span>
        </h2>
        {users.length === 0 ? (
          <p className="admin-empty">Nobody is connected.</p>
        ) : (
          <table data-testid="users">
            <thead>
              <tr>
                <th scope="col">User</th>
                {transports.map((t) => (
                  <th scope="col" key={t}>
                    {t === 'sse' ? 'SSE' : t === 'websocket' ? 'WebSocket' : t}
                  </th>
                ))}
                <th scope="col">Total</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.user_id}>
                  <th scope="row">{u.user_id}</th>
                  {transports.map((t) => (
                    <td key={t}>{u.transports[t] ?? 0}</td>
                  ))}
                  <td>{u.connections}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="admin-tasks">
        <h2 id="admin-tasks">
          Running tasks <span className="admin-count">{tasks.length}</span>
        </h2>
        {tasks.length === 0 ? (
          <p className="admin-empty">No task is running.</p>
        ) : (
          <table data-testid="tasks">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Task</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Running for</th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.task_id}>
                  <td>{t.user_id}</td>
                  <th scope="row">
                    {t.title} <span className="admin-id">{t.task_id}</span>
                  </th>
                  <td>{t.state}</td>
                  <td>{t.progress === null ? '—' : `${Math.round(t.progress * 100)}%`}</td>
                  <td>{t.running_for ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="admin-approvals">
        <h2 id="admin-approvals">
          Pending approvals <span className="admin-count">{approvals.length}</span>
        </h2>
        {approvals.length === 0 ? (
          <p className="admin-empty">No approval is waiting.</p>
        ) : (
          <table data-testid="approvals">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Action</th>
                <th scope="col">Asked by</th>
                <th scope="col">Asked at</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {approvals.map((a) => (
                <tr key={a.approval_id}>
                  <td>{a.user_id}</td>
                  <th scope="row">
                    {a.message || a.action_type} <span className="admin-id">{a.approval_id}</span>
                  </th>
                  <td>{a.agent}</td>
                  <td>{localTime(a.created_at)}</td>
                  <td>{a.expires_at ? localTime(a.expires_at) : 'never'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="admin-incidents">
        <h2 id="admin-incidents">
          Guardian incidents <span className="admin-count">{incidents.length} open</span>
        </h2>
        {!overview.guardian ? (
          <p className="admin-empty">The guardian does not run in this Grace.</p>
        ) : incidents.length === 0 ? (
          <p className="admin-empty">No open incident.</p>
        ) : (
          <ul className="admin-incidents" data-testid="incidents">
            {incidents.map((i) => (
              <li key={i.check} className={`sev-${i.severity}`}>
                <strong>{i.check}</strong> ({i.severity}) {i.message}{' '}
                <span className="admin-id">since {localTime(i.opened_at)}</span>
              </li>
            ))}
          </ul>
        )}
        {history.length > 0 && (
          <>
            <h3>Recent reports</h3>
            <ul className="admin-history" data-testid="history">
              {history.map((h, n) => (
                <li key={`${h.at}-${n}`}>
                  {localTime(h.at)} · {h.action.replace(/_/g, ' ')} · {h.message}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
    </>
  );
}
