/**
 * `const { notifications, connected, listTasks, cancelTask, pauseLearning, resumeLearning, approve,
 * reject, markRead, unread } = useNotifications()` — the seed's hook. Every component using it
 * with the same options shares one connection; the last one to unmount closes it.
 *
 * Commands resolve with the server's typed reply (`listTasks()` with the `task_list` frame,
 * `approve()` with the `approval` frame, …) and reject with a `GraceError` whose `code` is the
 * server's error code or `timeout` / `disconnected` / `closed`.
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { ClientOptions } from './client.js';
import type {
  ApprovalFrame,
  LearningFrame,
  NotificationFrame,
  NotificationMode,
  ReadFrame,
  StatusFrame,
  TaskFrame,
  TaskListFrame,
} from './frames.js';
import type { ClarifyAnswer } from './clarify.js';
import type { ChatMessage } from './chatMessages.js';
import type { CommandMap } from './protocol.js';
import type { GraceSession, Snapshot } from './session.js';
import { getSession, releaseSession } from './sessionRegistry.js';

export interface UseNotificationsOptions extends ClientOptions {
  /** Called for every notification pushed live (not for history or replay), with the mode the
   * person chose for its type (`alert`, `silent`, `mute`). */
  onNotification?: (frame: NotificationFrame, mode: NotificationMode) => void;
}

export interface NotificationCommands {
  session: GraceSession;
  listTasks: () => Promise<TaskListFrame>;
  cancelTask: (taskId: string) => Promise<TaskFrame>;
  pauseTask: (taskId: string) => Promise<TaskFrame>;
  resumeTask: (taskId: string) => Promise<TaskFrame>;
  pauseLearning: () => Promise<LearningFrame>;
  resumeLearning: () => Promise<LearningFrame>;
  approve: (approvalId: string, reason?: string) => Promise<ApprovalFrame>;
  reject: (approvalId: string, reason?: string) => Promise<ApprovalFrame>;
  /** Everything read unless told which. */
  markRead: (which?: Pick<CommandMap['mark_read'], 'ids' | 'up_to_seq' | 'all'>) => Promise<ReadFrame>;
  status: () => Promise<StatusFrame>;
  /** A sentence to the unified chat; the sentence and Grace's answer join the thread. */
  chat: (text: string) => Promise<void>;
  /** Send the command of suggestion `index` of a clarify reply and keep what came of it. */
  runSuggestion: (m: ChatMessage, index: number) => Promise<ClarifyAnswer>;
  /** Add the live task card to the thread and refresh it. */
  showTasks: () => Promise<void>;
  /** The person has seen these cards: those still unread are marked read. */
  markSeen: (ids: string[]) => void;
  /** The page of notifications before the oldest loaded. */
  loadOlder: () => Promise<void>;
  /** Show a type with a desktop alert, silently, or not at all, in every chat of the person. */
  setMode: (type: string, mode: NotificationMode) => Promise<void>;
  /** Archive cards (or, with `false`, show them again). */
  archive: (ids: string[], archived?: boolean) => Promise<void>;
  /** Put the away summary away. */
  dismissDigest: () => void;
  /** End the session and forget what this browser kept for the person. */
  signOut: () => Promise<void>;
}

export interface UseNotifications extends Snapshot, NotificationCommands {
  connected: boolean;
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
  const commands = useMemo<NotificationCommands>(() => {
    const c = session.client;
    return {
      session,
      listTasks: () => session.listTasks(),
      cancelTask: (id) => c.cancelTask(id),
      pauseTask: (id) => c.pauseTask(id),
      resumeTask: (id) => c.resumeTask(id),
      pauseLearning: () => c.pauseLearning(),
      resumeLearning: () => c.resumeLearning(),
      approve: (id, reason) => session.approve(id, reason),
      reject: (id, reason) => session.reject(id, reason),
      markRead: (which) => session.markRead(which),
      status: () => c.status(),
      chat: (text) => session.chat(text),
      runSuggestion: (m, index) => session.runSuggestion(m, index),
      showTasks: () => session.showTasks(),
      markSeen: (ids) => session.markSeen(ids),
      loadOlder: () => session.loadOlder(),
      setMode: (type, mode) => session.setMode(type, mode),
      archive: (ids, archived) => session.archive(ids, archived),
      dismissDigest: () => session.dismissDigest(),
      signOut: () => session.signOut(),
    };
  }, [session]);
  return { ...snap, connected: snap.state === 'connected', ...commands };
}
