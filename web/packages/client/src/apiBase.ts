/**
 * Where Grace's API is, for a chat served anywhere: the page's origin plus the path the server
 * names in `<meta name="grace-api" content="/prefix">` (empty, or no tag: the site's root).
 */
export function apiBaseUrl(doc: Document | undefined = globalThis.document, origin = globalThis.location?.origin ?? ''): string {
  const path = doc?.querySelector('meta[name="grace-api"]')?.getAttribute('content') ?? '';
  return (origin + path).replace(/\/$/, '');
}
