import type { ConnectionState, Transport } from '../client';

const STATE_LABEL: Record<ConnectionState, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  idle: 'Offline',
};

export function ConnectionIndicator({ state, transport }: { state: ConnectionState; transport: Transport }) {
  return (
    <p className={`connection ${state}`} role="status" data-testid="connection" data-state={state}>
      <span className="dot" aria-hidden="true" />
      <span className="connection-label">
        {STATE_LABEL[state]}
        {state === 'connected' && transport === 'sse' ? ' (SSE)' : ''}
      </span>
    </p>
  );
}
