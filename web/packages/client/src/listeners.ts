/** Typed event listeners: a listener that throws is logged and does not stop the others. */

type Signatures<Events> = { [K in keyof Events]: (...args: never[]) => void };

export class Listeners<Events extends Signatures<Events>> {
  private readonly sets = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Listen to `event`; the returned function stops listening. */
  on<K extends keyof Events>(event: K, fn: Events[K]): () => void {
    let set = this.sets.get(event);
    if (!set) {
      set = new Set();
      this.sets.set(event, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const fn of this.sets.get(event) ?? []) {
      try {
        (fn as Events[K])(...args);
      } catch (err) {
        console.error('grace: a listener failed', err);
      }
    }
  }
}
