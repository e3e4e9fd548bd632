/**
 * grace-chat-client: the TypeScript client of Grace's notification protocol v1 (no React).
 *
 * `GraceClient` keeps one connection (WebSocket, or SSE with commands over REST) open, resumes
 * after a drop without losing or repeating a notification, and answers each command with its
 * typed reply. `GraceSession` adds what a chat needs on top (history, read state, tasks,
 * approvals, the away summary). The React hook is in `grace-chat-client/react`; the protocol's
 * JSON Schema in `grace-chat-client/protocol.schema.json`.
 */
export * from './api.js';
export * from './apiBase.js';
export * from './backoff.js';
export * from './chatMessages.js';
export * from './clarify.js';
export * from './client.js';
export * from './connection.js';
export * from './digest.js';
export * from './errors.js';
export * from './frames.js';
export * from './heartbeat.js';
export * from './listeners.js';
export * from './parse.js';
export * from './protocol.js';
export * from './replies.js';
export * from './restRoutes.js';
export * from './resume.js';
export * from './session.js';
export * from './storage.js';
export * from './threadState.js';
