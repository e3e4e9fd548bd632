/**
 * One attempt at the notification stream, over WebSocket or (without it) Server-Sent Events:
 * opens it with the resume position, hands over the frames it receives and reports how it closed.
 * Reconnecting, and what the frames mean, is the client's business.
 */
import type { ServerFrame } from './frames.js';
import { isNotificationFrame, parseFrames } from './parse.js';

export type Transport = 'websocket' | 'sse';

const STREAM_PATH = '/api/notifications/stream';
const SSE_PATH = '/api/notifications/sse';

export interface StreamConfig {
  baseUrl: string;
  /** Sent in a hello frame; without it the session cookie authenticates. Replaced when the
   * client signs in again. */
  token: string | null;
  WebSocketImpl: typeof WebSocket | null;
  EventSourceImpl: typeof EventSource | null;
}

export interface StreamHandlers {
  frame: (frame: ServerFrame) => void;
  /** The stream ended; `opened` tells whether it ever opened. */
  closed: (code: number, opened: boolean, reason: string) => void;
}

export class StreamConnection {
  private ws: WebSocket | null = null;
  private es: EventSource | null = null;

  constructor(
    private readonly config: StreamConfig,
    private readonly handlers: StreamHandlers,
  ) {}

  /** Whether a WebSocket is there to send commands on. */
  get canSend(): boolean {
    return this.ws !== null;
  }

  /** Open the stream, resuming after `since`; false when the transport does not exist here. */
  open(transport: Transport, since: number | null): boolean {
    this.close();
    if (transport === 'sse') return this.openSse(since);
    return this.openWs(since);
  }

  /** Send a command frame; throws when the WebSocket is gone or refuses it. */
  send(frame: object): void {
    if (!this.ws) throw new Error('not connected');
    this.ws.send(JSON.stringify(frame));
  }

  /** Close without reporting it (the client is the one closing). */
  close(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  private openWs(since: number | null): boolean {
    const { WebSocketImpl: WS, baseUrl, token } = this.config;
    if (!WS) return false;
    let url = baseUrl.replace(/^http/, 'ws') + STREAM_PATH;
    if (!token && since !== null) url += `?since=${since}`;
    let opened = false;
    let ws: WebSocket;
    try {
      ws = new WS(url);
    } catch {
      this.handlers.closed(1006, false, '');
      return true;
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      if (token) ws.send(JSON.stringify({ type: 'hello', token, since }));
    };
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      this.deliver(event.data, 'the server sent a frame that is not JSON');
    };
    ws.onclose = (event: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.handlers.closed(event.code, opened, event.reason);
    };
    return true;
  }

  private openSse(since: number | null): boolean {
    const { EventSourceImpl: ES, baseUrl } = this.config;
    if (!ES) return false;
    const url = baseUrl + SSE_PATH + (since !== null ? `?since=${since}` : '');
    const es = new ES(url, { withCredentials: true });
    let opened = false;
    this.es = es;
    es.onopen = () => {
      opened = true;
    };
    // the stream's last event may say why it ends (4401 when the token expired, 4008)
    let ending: { code: number; reason: string } | null = null;
    es.onmessage = (event: MessageEvent) =>
      this.deliver(String(event.data), 'the server sent an event that is not JSON', (frame) => {
        if (isNotificationFrame(frame) || frame.type !== 'error') return;
        if (typeof frame.close_code === 'number') ending = { code: frame.close_code, reason: frame.message };
      });
    es.onerror = () => {
      if (this.es !== es) return;
      // The browser would retry by itself (with Last-Event-ID); the client restarts with its own
      // position instead, which also covers a 401 that EventSource does not report.
      es.close();
      this.es = null;
      this.handlers.closed(ending?.code ?? 1006, opened, ending?.reason ?? '');
    };
    return true;
  }

  private deliver(text: string, complaint: string, peek?: (frame: ServerFrame) => void): void {
    let frames: ServerFrame[];
    try {
      frames = parseFrames(text);
    } catch {
      console.error(`grace: ${complaint}`);
      return;
    }
    for (const frame of frames) {
      peek?.(frame);
      this.handlers.frame(frame);
    }
  }
}
