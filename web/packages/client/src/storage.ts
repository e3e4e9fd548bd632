/** Where the client keeps what outlives a page (resume positions, the chat's messages). */

export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** The page's `localStorage`, or null where there is none or it is refused (some private modes). */
export function safeLocalStorage(): KeyValueStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
