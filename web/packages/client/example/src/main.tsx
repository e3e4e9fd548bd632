// A React app built on grace-chat-client, as in the package's README. scripts/test-web copies this
// folder, installs the packed package into it and builds it (type-checked).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraceClient, GraceError, PROTOCOL_VERSION, type NotificationFrame } from 'grace-chat-client';
import { useNotifications } from 'grace-chat-client/react';
import schema from 'grace-chat-client/protocol.schema.json';

const token = new URLSearchParams(location.search).get('token');

// The client alone (no React): one connection that resumes where it left off.
const client = new GraceClient({ baseUrl: 'http://localhost:8000', token });
client.on('notification', (frame: NotificationFrame, { replayed }) => {
  if (!replayed) console.log(frame.type, frame.message);
});
client.on('state', (state, error) => console.log('connection', state, error?.code));
client.connect();
client
  .listTasks()
  .then((reply) => console.log(`${reply.active} tasks running`))
  .catch((err: unknown) => console.log(err instanceof GraceError ? err.code : err));

function Inbox() {
  const { notifications, unread, state, approve, listTasks } = useNotifications({ token });
  return (
    <main>
      <p>
        {state}: {unread} unread (protocol v{PROTOCOL_VERSION}, schema {schema.$id})
      </p>
      <button onClick={() => void listTasks()}>Tasks</button>
      <ul>
        {notifications.map((n) => (
          <li key={n.id}>
            {n.message}
            {n.type === 'approval_needed' && typeof n.data?.approval_id === 'string' && (
              <button onClick={() => void approve(String(n.data.approval_id))}>Approve</button>
            )}
          </li>
        ))}
      </ul>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Inbox />
  </StrictMode>,
);
