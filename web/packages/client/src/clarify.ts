/**
 * "Did you mean …?": a `clarify` reply of the unified chat offers suggestions, each with the exact
 * protocol command that does it. Which suggestion the person used, and what came of it, is kept
 * per user in this browser so the card looks the same after a reload.
 */
import type { ChatMessage } from './chatMessages.js';
import type { ControlFrame } from './frames.js';
import { REPLY_TYPES } from './frames.js';
import type { Command, SendableCommandType } from './protocol.js';
import type { KeyValueStorage } from './storage.js';

export interface Suggestion {
  label: string;
  command: Extract<Command, { type: SendableCommandType }>;
}

/** What came of a suggestion the person used. */
export interface ClarifyAnswer {
  /** The reply it answered (`clarifyKey`). */
  key: string;
  /** The suggestion used (its index and label). */
  index: number;
  label: string;
  /** The outcome, in a sentence. */
  result: string;
  /** When it was used (ms since the epoch). */
  at: number;
}

/** Commands a suggestion may carry: every command answered by a reply, but not keep-alives. */
const OFFERABLE = new Set<string>(Object.keys(REPLY_TYPES).filter((t) => t !== 'ping' && t !== 'ack'));

function isSuggestion(value: unknown): value is Suggestion {
  if (!value || typeof value !== 'object') return false;
  const { label, command } = value as { label?: unknown; command?: unknown };
  if (typeof label !== 'string' || !label || !command || typeof command !== 'object') return false;
  const type = (command as { type?: unknown }).type;
  return typeof type === 'string' && OFFERABLE.has(type);
}

/** The suggestions of a `clarify` reply (those that carry a command this client can send), or
 * null when `m` is not one. */
export function clarifySuggestions(m: Pick<ChatMessage, 'kind' | 'intent' | 'data'>): Suggestion[] | null {
  if (m.kind !== 'grace' || m.intent !== 'clarify') return null;
  const raw = (m.data as { suggestions?: unknown } | undefined)?.suggestions;
  if (!Array.isArray(raw)) return null;
  const suggestions = raw.filter(isSuggestion);
  return suggestions.length ? suggestions : null;
}

/** The question of a clarify reply, without the list of suggestions the buttons show
 * ("Which task should I cancel?"); empty when it only says it is not sure. */
export function clarifyQuestion(text: string): string {
  const question = text.split(/\s*Did you mean/)[0].trim();
  return /^I'?m not sure\.?$/i.test(question) ? '' : question;
}

/** A reply's key: its text and suggestions (the same live and from the server's history). */
export function clarifyKey(m: Pick<ChatMessage, 'text' | 'data'>): string {
  const suggestions = (m.data as { suggestions?: unknown } | undefined)?.suggestions;
  return `${m.text}\u0000${JSON.stringify(suggestions ?? null)}`;
}

/** How far the reply's time may be after the answer's (the server's clock and this one's). */
const CLOCK_SLACK_MS = 60_000;

/**
 * Which answer belongs to which clarify reply: an answer goes to the latest reply with its key
 * that came before it (the same question asked twice is answered once each).
 */
export function answersByMessage(messages: ChatMessage[], answers: ClarifyAnswer[]): Map<string, ClarifyAnswer> {
  const byKey = new Map<string, ChatMessage[]>();
  for (const m of messages) {
    if (!clarifySuggestions(m)) continue;
    const key = clarifyKey(m);
    byKey.set(key, [...(byKey.get(key) ?? []), m]);
  }
  const out = new Map<string, ClarifyAnswer>();
  for (const a of [...answers].sort((x, y) => x.at - y.at)) {
    const free = (byKey.get(a.key) ?? []).filter((m) => !out.has(m.id));
    // the reply came before its answer; allowing for clocks that disagree when none did
    const before = free.filter((m) => m.at <= a.at);
    const candidates = before.length ? before : free.filter((m) => m.at <= a.at + CLOCK_SLACK_MS);
    const m = candidates[candidates.length - 1];
    if (m) out.set(m.id, a);
  }
  return out;
}

/** The outcome of a suggestion's command, from its reply, in a sentence. */
export function describeReply(frame: ControlFrame): string {
  switch (frame.type) {
    case 'task': {
      const t = frame.task;
      return `Task ${t.task_id} (${t.title || t.task_type}) is ${t.state}.`;
    }
    case 'approval': {
      const a = frame.approval;
      return frame.decided ? `${a.action_type} (${a.approval_id}) ${a.state}.` : `${a.approval_id} was already ${a.state}.`;
    }
    case 'learning':
      return `Learning is ${frame.effective}${frame.changed ? '' : ' (unchanged)'}.`;
    case 'task_list':
      return `${frame.tasks.length} task${frame.tasks.length === 1 ? '' : 's'}, ${frame.active} active.`;
    case 'task_logs':
      return `${frame.lines.length} log line${frame.lines.length === 1 ? '' : 's'} of ${frame.task_id}.`;
    case 'status':
      return frame.summary;
    case 'chat_reply':
      return frame.text;
    case 'read':
      return `${frame.marked} marked read.`;
    default:
      return 'Done.';
  }
}

const PREFIX = 'grace.clarify.v1:';
const MAX_ANSWERS = 100;

export class ClarifyStore {
  constructor(private readonly storage: KeyValueStorage | null) {}

  load(user: string | null): ClarifyAnswer[] {
    if (!user) return [];
    try {
      const raw = this.storage?.getItem(PREFIX + user);
      const value: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(value) ? (value as ClarifyAnswer[]).filter((a) => typeof a?.key === 'string') : [];
    } catch {
      return [];
    }
  }

  save(user: string | null, answers: ClarifyAnswer[]): ClarifyAnswer[] {
    const kept = answers.slice(-MAX_ANSWERS);
    if (!user) return kept;
    try {
      if (kept.length) this.storage?.setItem(PREFIX + user, JSON.stringify(kept));
      else this.storage?.removeItem(PREFIX + user);
    } catch {
      /* storage full: it shows until the page goes */
    }
    return kept;
  }
}
