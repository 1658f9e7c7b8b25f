// One 'abort' listener per run on the caller's AbortSignal, fanned out to every pending step. A
// listener per step (connect, identity, each suite of each node) passed Node's default of 10 per
// signal from 20 nodes up: MaxListenersExceededWarning on every fleet run.
export interface AbortHub {
  readonly aborted: boolean;
  on(f: () => void): void;
  off(f: () => void): void;
  /** The run is over: the caller's signal keeps no listener of ours. */
  dispose(): void;
}

export function abortHub(signal?: AbortSignal): AbortHub {
  const waiting = new Set<() => void>();
  const fire = () => {
    for (const f of [...waiting]) {
      waiting.delete(f);
      f();
    }
  };
  signal?.addEventListener('abort', fire, { once: true });
  return {
    get aborted() {
      return signal?.aborted ?? false;
    },
    on: (f) => {
      if (signal?.aborted) return void f();
      waiting.add(f);
    },
    off: (f) => void waiting.delete(f),
    dispose: () => {
      signal?.removeEventListener('abort', fire);
      waiting.clear();
    },
  };
}
