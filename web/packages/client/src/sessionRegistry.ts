/**
 * The sessions components share: one per server and token. The first component to use one
 * creates it; the last to let go closes it and forgets it.
 */
import type { ClientOptions } from './client.js';
import { GraceSession } from './session.js';

const sessions = new Map<string, GraceSession>();

function sessionKey(options: ClientOptions): string {
  return `${options.baseUrl ?? ''}|${options.token ?? 'cookie'}`;
}

/** The shared session for these options (created on first use). */
export function getSession(options: ClientOptions = {}): GraceSession {
  const key = sessionKey(options);
  let session = sessions.get(key);
  if (!session) {
    session = new GraceSession(options);
    sessions.set(key, session);
  }
  return session;
}

export function releaseSession(options: ClientOptions, session: GraceSession): void {
  const key = sessionKey(options);
  session.release(() => {
    if (sessions.get(key) === session && session.retained <= 0) sessions.delete(key);
  });
}
