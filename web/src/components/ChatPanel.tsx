/** The conversation: the person's messages, Grace's replies and notification cards, in time order. */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useNotifications, type UseNotificationsOptions } from '../useNotifications';
import { ChatInput } from './ChatInput';
import { ConnectionIndicator } from './ConnectionIndicator';
import { MessageView } from './MessageView';
import { NotificationCard } from './NotificationCard';
import { approvalOutcome, connectionError, threadEntries } from './thread';
import { useDesktopAlerts } from './useDesktopAlerts';

export interface ChatPanelProps extends UseNotificationsOptions {
  /** Shown when the page could not sign in (e.g. an expired link). */
  loginError?: string | null;
}

export function ChatPanel({ loginError = null, ...options }: ChatPanelProps) {
  const [announcement, setAnnouncement] = useState('');
  const alerts = useDesktopAlerts(setAnnouncement);
  const g = useNotifications({ ...options, onNotification: alerts.onNotification });
  const entries = useMemo(() => threadEntries(g.notifications, g.messages), [g.notifications, g.messages]);

  const firstCard = useRef(false);
  useEffect(() => {
    if (!firstCard.current && g.notifications.length > 0) {
      firstCard.current = true;
      performance.mark?.('grace:first-notification');
    }
  }, [g.notifications.length]);

  const threadEnd = useRef<HTMLLIElement>(null);
  useEffect(() => {
    threadEnd.current?.scrollIntoView?.({ block: 'end' });
  }, [entries.length]);

  const lastMessage = g.messages[g.messages.length - 1];
  useEffect(() => {
    if (lastMessage?.kind === 'grace') setAnnouncement(`Grace: ${lastMessage.text}`);
  }, [lastMessage]);

  const error = loginError ?? (g.error ? connectionError(g.error.code, g.error.message) : null);

  return (
    <main className="chat" aria-label="Grace chat">
      <header className="chat-header">
        <h1>Grace</h1>
        <ConnectionIndicator state={g.state} transport={g.transport} />
        <div className="header-actions">
          <button
            type="button"
            className="unread"
            onClick={() => void g.markRead({ all: true }).catch(() => undefined)}
            disabled={g.unread === 0}
            aria-label={`${g.unread} unread. Mark all read`}
            title="Mark all read"
          >
            <span data-testid="unread-count">{g.unread}</span> unread
          </button>
          <button type="button" onClick={() => void g.showTasks()}>
            Tasks
          </button>
          {alerts.permission === 'default' && (
            <button type="button" onClick={() => void alerts.askPermission()}>
              Enable desktop alerts
            </button>
          )}
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
      <ol className="thread" aria-label="Conversation" data-testid="thread">
        {entries.length === 0 && <li className="empty">No messages yet. Grace will post here as work happens.</li>}
        {entries.map((e) =>
          e.kind === 'notification' ? (
            <li key={`n${e.n.seq}`}>
              <NotificationCard n={e.n} outcome={approvalOutcome(e.n, g.approvals)} g={g} />
            </li>
          ) : (
            <li key={e.m.id}>
              <MessageView m={e.m} g={g} />
            </li>
          ),
        )}
        <li ref={threadEnd} aria-hidden="true" className="thread-end" />
      </ol>
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
        {announcement}
      </div>
      <ChatInput onSend={g.chat} />
    </main>
  );
}
