import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { apiBaseUrl, startSession, tokenSubject } from 'grace-chat-client';
import { AdminPage } from './admin/AdminPage';
import { isAdminLocation } from './admin/overview';
import { ChatPanel } from './components/ChatPanel';
import { describeError } from 'grace-chat-client';
import { LAST_USER_KEY } from 'grace-chat-client';
import './styles.css';

/**
 * Log in from the link `grace serve` prints (`/?token=…`): the token is removed from the address
 * bar at once, then exchanged for the HttpOnly session cookie.
 */
async function loginFromUrl(): Promise<string | null> {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (!token) return null;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  try {
    await startSession({ baseUrl: apiBaseUrl() }, token);
  } catch (err) {
    return `This login link did not work (${describeError(err)}). Ask for a new one with \`grace token USER\`.`;
  }
  const user = tokenSubject(token);
  if (user) localStorage.setItem(LAST_USER_KEY, user);
  return null;
}

/** The operator view's token from `/admin?token=…`, removed from the address bar at once. */
function adminTokenFromUrl(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (!token) return null;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  return token;
}

async function start() {
  const root = document.getElementById('root');
  if (!root) throw new Error('index.html has no #root');
  if (isAdminLocation(window.location)) {
    document.title = 'Grace · operator view';
    createRoot(root).render(
      <StrictMode>
        <AdminPage initialToken={adminTokenFromUrl()} />
      </StrictMode>,
    );
    return;
  }
  const loginError = await loginFromUrl();
  createRoot(root).render(
    <StrictMode>
      <ChatPanel loginError={loginError} />
    </StrictMode>,
  );
}

void start();
