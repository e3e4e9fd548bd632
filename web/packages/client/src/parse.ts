/** Frames off the wire: one WebSocket message (or SSE event) may pack several. */
import type { NotificationFrame, ServerFrame } from './frames.js';
import { CONTROL_FRAMES } from './protocol.js';

const CONTROL = new Set<string>(CONTROL_FRAMES);

/** A notification is any frame whose `type` is not a control frame's, with its `id` and `seq`. */
export function isNotificationFrame(frame: unknown): frame is NotificationFrame {
  if (typeof frame !== 'object' || frame === null) return false;
  const f = frame as Record<string, unknown>;
  return typeof f.type === 'string' && !CONTROL.has(f.type) && typeof f.seq === 'number' && typeof f.id === 'string';
}

/**
 * Split one message into frames (the server packs several, newline-separated). Throws on a line
 * that is not JSON; skips JSON values that are not frames (objects with a string `type`).
 */
export function parseFrames(text: string): ServerFrame[] {
  const frames: ServerFrame[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') {
      frames.push(value as ServerFrame);
    }
  }
  return frames;
}
