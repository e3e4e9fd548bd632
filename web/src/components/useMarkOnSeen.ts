import { useCallback, useEffect, useRef } from 'react';

/** The page is in front of the person: visible, and its window has the focus. */
export function pageInFront(): boolean {
  if (typeof document === 'undefined') return false;
  return document.visibilityState === 'visible' && document.hasFocus();
}

/** Enough of a card is on screen to have been read: half of it, or half the screen for a tall one. */
function seenEnough(e: IntersectionObserverEntry): boolean {
  if (!e.isIntersecting) return false;
  const screen = e.rootBounds?.height ?? window.innerHeight;
  return e.intersectionRatio >= 0.5 || e.intersectionRect.height >= screen / 2;
}

/**
 * The same test on the layout as it is now, inside its scrolling list and the window: what the
 * observer last reported may be a frame old when the page comes to the front.
 */
function onScreenNow(el: Element): boolean {
  let top = 0;
  let bottom = window.innerHeight;
  const list = el.closest('.thread');
  if (list) {
    const box = list.getBoundingClientRect();
    top = Math.max(top, box.top);
    bottom = Math.min(bottom, box.bottom);
  }
  const r = el.getBoundingClientRect();
  const seen = Math.min(r.bottom, bottom) - Math.max(r.top, top);
  return seen > 0 && (seen >= r.height / 2 || seen >= (bottom - top) / 2);
}

export type SeenRef = (el: Element | null) => void;

/**
 * Marks cards read when the person has seen them: a card counts as seen while enough of it is on
 * screen and the page is in front of them (visible and focused). Cards that are on screen while
 * the page is in the background are marked when it comes to the front.
 *
 * `seenRef(key, ids)` gives the ref for the element that shows the notifications `ids` (one card,
 * or the away summary for all it covers); `undefined` ids stop watching it. `active` re-checks
 * what is on screen when it turns true (e.g. once connected again).
 */
export function useMarkOnSeen(markSeen: (ids: string[]) => void, active: boolean) {
  const onScreen = useRef(new Set<Element>());
  const idsOf = useRef(new Map<Element, string[]>());
  const observer = useRef<IntersectionObserver | null>(null);
  const refs = useRef(new Map<string, { ids: string[]; ref: SeenRef; el: Element | null }>());
  const mark = useRef(markSeen);
  mark.current = markSeen;

  /** Mark what is on screen, if the page is in front. `recheck`: what the observer said last may
   * be stale (the page just came to the front): measure the layout again. */
  const flush = useCallback((recheck = false) => {
    if (!pageInFront()) return;
    const ids: string[] = [];
    for (const el of onScreen.current) {
      if (!recheck || onScreenNow(el)) ids.push(...(idsOf.current.get(el) ?? []));
    }
    if (ids.length) mark.current(ids);
  }, []);

  useEffect(() => {
    if (typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (seenEnough(e)) onScreen.current.add(e.target);
          else onScreen.current.delete(e.target);
        }
        flush();
      },
      { threshold: [0, 0.25, 0.5, 0.75, 1] },
    );
    observer.current = io;
    for (const el of idsOf.current.keys()) io.observe(el);
    const toFront = () => flush(true);
    document.addEventListener('visibilitychange', toFront);
    window.addEventListener('focus', toFront);
    return () => {
      io.disconnect();
      observer.current = null;
      onScreen.current.clear();
      document.removeEventListener('visibilitychange', toFront);
      window.removeEventListener('focus', toFront);
    };
  }, [flush]);

  useEffect(() => {
    if (active) flush(true);
  }, [active, flush]);

  return useCallback(
    (key: string, ids: string[] | undefined): SeenRef | undefined => {
      const known = refs.current.get(key);
      if (!ids || !ids.length) {
        if (known?.el) {
          observer.current?.unobserve(known.el);
          onScreen.current.delete(known.el);
          idsOf.current.delete(known.el);
        }
        refs.current.delete(key);
        return undefined;
      }
      if (known) {
        known.ids = ids;
        if (known.el) idsOf.current.set(known.el, ids);
        return known.ref;
      }
      const entry = { ids, el: null as Element | null, ref: (() => undefined) as SeenRef };
      entry.ref = (el) => {
        if (entry.el && entry.el !== el) {
          observer.current?.unobserve(entry.el);
          onScreen.current.delete(entry.el);
          idsOf.current.delete(entry.el);
        }
        entry.el = el;
        if (el) {
          idsOf.current.set(el, entry.ids);
          observer.current?.observe(el);
        }
      };
      refs.current.set(key, entry);
      return entry.ref;
    },
    [],
  );
}
