/**
 * `const { notifications, connected, listTasks, cancelTask, pauseLearning, resumeLearning, approve,
 * reject, markRead, unread } = useNotifications()` — the seed's hook. Every component using it
 * with the same options shares one connection; the last one to unmount closes it.
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { ClientOptions } from './client';
import type { NotificationFrame } from './frames';
import { getSession, releaseSession, type GraceSession, type Snapshot } from './session';

export interface UseNotificationsOptions extends ClientOptions {
  /** Called for every notification pushed live (not for history or replay). */
  onNotification?: (frame: NotificationFrame) => void;
}

export interface UseNotifications extends Snapshot {
  connected: boolean;
  session: GraceSession;
  listTasks: GraceSession['listTasks'];
  cancelTask: (taskId: string) => Promise<unknown>;
  pauseTask: (taskId: string) => Promise<unknown>;
  resumeTask: (taskId: string) => Promise<unknown>;
  pauseLearning: () => Promise<unknown>;
  resumeLearning: () => Promise<unknown>;
  approve: GraceSession['approve'];
  reject: GraceSession['reject'];
  markRead: GraceSession['markRead'];
  status: () => Promise<unknown>;
  chat: (text: string) => Promise<void>;
  showTasks: () => Promise<void>;
}

export function useNotifications(options: UseNotificationsOptions = {}): UseNotifications {
  const { onNotification, ...clientOptions } = options;
  const [session] = useState(() => getSession(clientOptions));
  useEffect(() => {
    session.retain();
    return () => releaseSession(clientOptions, session);
    // the session is fixed for this component's life
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session]);
  useEffect(() => (onNotification ? session.onLive(onNotification) : undefined), [session, onNotification]);
  const snap = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
  const commands = useMemo(() => {
    const c = session.client;
    return {
      session,
      listTasks: () => session.listTasks(),
      cancelTask: (id: string) => c.cancelTask(id),
      pauseTask: (id: string) => c.pauseTask(id),
      resumeTask: (id: string) => c.resumeTask(id),
      pauseLearning: () => c.pauseLearning(),
      resumeLearning: () => c.resumeLearning(),
      approve: (id: string, reason?: string) => session.approve(id, reason),
      reject: (id: string, reason?: string) => session.reject(id, reason),
      markRead: (which?: { ids?: string[]; up_to_seq?: number; all?: boolean }) => session.markRead(which),
      status: () => c.status(),
      chat: (text: string) => session.chat(text),
      showTasks: () => session.showTasks(),
    };
  }, [session]);
  return { ...snap, connected: snap.state === 'connected', ...commands };
}
