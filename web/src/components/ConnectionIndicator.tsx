import type { ConnectionState, Transport } from 'grace-chat-client';
import type { GraceErrorCode } from 'grace-chat-client';

const STATE_LABEL: Record<ConnectionState, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  idle: 'Offline',
};

export function ConnectionIndicator({
  state,
  transport,
  error = null,
}: {
  state: ConnectionState;
  transport: Transport;
  /** Why the connection is down, when it is. */
  error?: GraceErrorCode | null;
}) {
  const tooMany = error === 'too_many_connections' && state !== 'connected';
  return (
    <p className={`connection ${state}`} role="status" data-testid="connection" data-state={state}>
      <span className="dot" aria-hidden="true" />
      <span className="connection-label">
        {tooMany ? 'Too many open tabs' : STATE_LABEL[state]}
        {state === 'connected' && transport === 'sse' ? ' (SSE)' : ''}
      </span>
    </p>
  );
}
