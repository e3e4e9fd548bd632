/**
 * The conversation: the person's messages, Grace's replies, notification cards and the away
 * summary, in time order. Cards are marked read as the person sees them; the unread count is in
 * the header and the tab's title.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { answersByMessage } from 'grace-chat-client';
import type { NotificationFrame } from 'grace-chat-client';
import { useNotifications, type UseNotificationsOptions } from 'grace-chat-client/react';
import { ChatInput } from './ChatInput';
import { ConnectionIndicator } from './ConnectionIndicator';
import { DigestCard } from './DigestCard';
import { HeaderMenu, type MenuItem } from './HeaderMenu';
import { MessageView } from './MessageView';
import { NotificationCard } from './NotificationCard';
import { SettingsPanel } from './SettingsPanel';
import { approvalOutcome, connectionError, entryKey, threadEntries, type ThreadView } from './thread';
import { useDesktopAlerts } from './useDesktopAlerts';
import { useMarkOnSeen } from './useMarkOnSeen';

export interface ChatPanelProps extends UseNotificationsOptions {
  /** Shown when the page could not sign in (e.g. an expired link). */
  loginError?: string | null;
}

const TITLE = 'Grace';

export function ChatPanel({ loginError = null, ...options }: ChatPanelProps) {
  const [announcement, setAnnouncement] = useState('');
  const alerts = useDesktopAlerts(setAnnouncement);
  const g = useNotifications({ ...options, onNotification: alerts.onNotification });
  const [showArchived, setShowArchived] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [menuError, setMenuError] = useState<string | null>(null);

  const view = useMemo<ThreadView>(
    () => ({ modes: g.modes, defaultMode: g.defaultMode, archived: g.archived, showArchived, digest: g.digest, holdAbove: g.holdAbove }),
    [g.modes, g.defaultMode, g.archived, showArchived, g.digest, g.holdAbove],
  );
  const entries = useMemo(() => threadEntries(g.notifications, g.messages, view), [g.notifications, g.messages, view]);

  const answers = useMemo(() => answersByMessage(g.messages, g.clarified), [g.messages, g.clarified]);

  const seen = useMarkOnSeen(g.markSeen, g.connected);

  const firstCard = useRef(false);
  useEffect(() => {
    if (!firstCard.current && g.notifications.length > 0) {
      firstCard.current = true;
      performance.mark?.('grace:first-notification');
    }
  }, [g.notifications.length]);

  useEffect(() => {
    document.title = g.unread > 0 ? `(${g.unread}) ${TITLE}` : TITLE;
  }, [g.unread]);

  // follow the end of the thread as it grows there (not when older pages load above)
  const threadEnd = useRef<HTMLLIElement>(null);
  const lastKey = entries.length ? entryKey(entries[entries.length - 1]) : '';
  useEffect(() => {
    threadEnd.current?.scrollIntoView?.({ block: 'end' });
  }, [lastKey]);

  const lastMessage = g.messages[g.messages.length - 1];
  useEffect(() => {
    if (lastMessage?.kind === 'grace') setAnnouncement(`Grace: ${lastMessage.text}`);
  }, [lastMessage]);

  const error = loginError ?? (g.error && !g.signedOut ? connectionError(g.error.code, g.error.message) : null);

  const card = (n: NotificationFrame) => (
    <NotificationCard
      n={n}
      outcome={approvalOutcome(n, g.approvals)}
      g={g}
      archived={g.archived.has(n.id)}
      seenRef={seen(`n${n.id}`, n.read ? undefined : [n.id])}
    />
  );

  const signOut = async () => {
    setMenuError(null);
    try {
      await g.signOut();
    } catch (err) {
      setMenuError(`Could not sign out: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const archivedCount = g.notifications.filter((n) => g.archived.has(n.id)).length;
  const menu: MenuItem[] = [
    ...(alerts.permission === 'default' ? [{ label: 'Enable desktop alerts', onSelect: () => void alerts.askPermission() }] : []),
    { label: 'Notification settings', onSelect: () => setSettingsOpen(true) },
    {
      label: showArchived ? 'Hide archived' : `Show archived (${archivedCount})`,
      onSelect: () => setShowArchived(!showArchived),
    },
    { label: 'Sign out', onSelect: () => void signOut() },
  ];
  const types = useMemo(() => {
    const known = new Map(g.types.map((t) => [t.name, t]));
    for (const n of g.notifications) {
      if (!known.has(n.type)) known.set(n.type, { name: n.type, badge: n.badge, severity: n.severity });
    }
    return [...known.values()].sort((a, b) => a.name.localeCompare(b.name));
  }, [g.types, g.notifications]);

  if (g.signedOut) {
    return (
      <main className="chat" aria-label="Grace chat">
        <header className="chat-header">
          <h1>Grace</h1>
        </header>
        <p className="banner" role="status" data-testid="signed-out">
          You are signed out. Open a login link to sign in again (<code>grace token USER</code> makes one).
        </p>
      </main>
    );
  }

  return (
    <main className="chat" aria-label="Grace chat">
      <header className="chat-header">
        <h1>Grace</h1>
        <ConnectionIndicator state={g.state} transport={g.transport} error={g.error?.code} />
        <div className="header-actions">
          <button
            type="button"
            className="unread"
            onClick={() => void g.markRead({ all: true }).catch(() => undefined)}
            disabled={g.unread === 0}
            aria-label={`${g.unread} unread. Mark all read`}
            title="Mark all read"
          >
            <span data-testid="unread-count">{g.unread}</span>
            <span className="unread-word"> unread</span>
          </button>
          <button type="button" onClick={() => void g.showTasks()}>
            Tasks
          </button>
          <HeaderMenu items={menu} />
        </div>
      </header>
      {error && (
        <p className="banner error" role="alert">
          {error}
        </p>
      )}
      {g.historyError && (
        <p className="banner warning" role="alert">
          {g.historyError}
        </p>
      )}
      {menuError && (
        <p className="banner error" role="alert">
          {menuError}
        </p>
      )}
      {settingsOpen && (
        <SettingsPanel
          types={types}
          modes={g.modes}
          defaultMode={g.defaultMode}
          setMode={g.setMode}
          onClose={() => setSettingsOpen(false)}
        />
      )}
      <ol className="thread" aria-label="Conversation" data-testid="thread">
        {g.hasMore && (
          <li className="older">
            <button type="button" onClick={() => void g.loadOlder()} disabled={g.loadingOlder}>
              {g.loadingOlder ? 'Loading…' : 'Load older notifications'}
            </button>
          </li>
        )}
        {entries.length === 0 && <li className="empty">No messages yet. Grace will post here as work happens.</li>}
        {entries.map((e) => {
          const key = entryKey(e);
          if (e.kind === 'notification') return <li key={key}>{card(e.n)}</li>;
          if (e.kind === 'message') {
            return (
              <li key={key}>
                <MessageView m={e.m} g={g} answer={answers.get(e.m.id)} />
              </li>
            );
          }
          const unseen = e.covered.filter((n) => !n.read).map((n) => n.id);
          return (
            <li key={key}>
              <DigestCard
                summary={e.summary}
                covered={e.covered}
                approvals={g.approvals}
                g={g}
                renderCard={card}
                onDismiss={g.dismissDigest}
                seenRef={seen(key, unseen.length ? unseen : undefined)}
              />
            </li>
          );
        })}
        <li ref={threadEnd} aria-hidden="true" className="thread-end" />
      </ol>
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
        {announcement}
      </div>
      <ChatInput onSend={g.chat} />
    </main>
  );
}
