/**
 * The person's messages and Grace's replies: kept per user in this browser, and merged with the
 * conversation the server keeps (the unified chat's history) when it keeps one.
 */
import type { ThreadItem } from './api.js';
import type { KeyValueStorage } from './storage.js';

export interface ChatMessage {
  kind: 'user' | 'grace' | 'tasks';
  id: string;
  text: string;
  at: number;
  error?: boolean;
  /** What a reply answered (`list_tasks`, …); it is drawn from `intent` and `data`. */
  intent?: string | null;
  data?: Record<string, unknown>;
}

const CHAT_PREFIX = 'grace.chat.v1:';
export const MAX_MESSAGES = 200;

export class MessageStore {
  private counter = 0;

  constructor(private readonly storage: KeyValueStorage | null) {}

  /** A new message, stamped now. */
  create(m: Omit<ChatMessage, 'id' | 'at'>): ChatMessage {
    return { ...m, id: `m${Date.now()}-${++this.counter}`, at: Date.now() };
  }

  load(user: string | null): ChatMessage[] {
    if (!user) return [];
    try {
      const raw = this.storage?.getItem(CHAT_PREFIX + user);
      const value: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(value) ? (value as ChatMessage[]) : [];
    } catch {
      return [];
    }
  }

  save(user: string | null, messages: ChatMessage[]): void {
    if (!user) return;
    try {
      this.storage?.setItem(CHAT_PREFIX + user, JSON.stringify(messages));
    } catch {
      /* storage full: the thread still shows them */
    }
  }
}

/**
 * The server's conversation wins; what only this page has (task cards, failed sends) stays, and
 * without a server conversation every local message stays.
 */
export function mergeServerHistory(local: ChatMessage[], items: ThreadItem[]): ChatMessage[] {
  const fromServer: ChatMessage[] = items.map((item, i) => ({
    kind: item.role === 'user' ? 'user' : 'grace',
    id: `s${item.timestamp}-${i}`,
    text: item.text ?? '',
    at: Date.parse(item.timestamp),
    intent: item.intent ?? null,
    data: item.data,
  }));
  const kept = local.filter((m) => m.kind === 'tasks' || m.error || !fromServer.length);
  return [...fromServer, ...kept].sort((a, b) => a.at - b.at).slice(-MAX_MESSAGES);
}
