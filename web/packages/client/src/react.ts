/**
 * grace-chat-client/react: `useNotifications`, a React hook over one shared `GraceSession` per
 * connection (tabs of the same options share it). React 18 or later is a peer dependency of this
 * entry only.
 */
export * from './useNotifications.js';
