/**
 * The life cycle of a dispatched call, in one place.
 *
 * States: `running` (tasks may be posted) -> `stopped` (aborted, closed or failed: the cancel flag is
 * up, the call's promise has rejected, nothing more is posted) -> `settled` (the caller's promise
 * has settled; late answers are ignored). `running` may go straight to `settled` on success.
 *
 * One release rule: the call's staging buffer goes back to the pool once the call has settled, no
 * task is pending, and no task failed abnormally (a worker that died or is being terminated may
 * still touch the buffer, so then it is dropped, never reused). {@link CallRegistry.run} registers
 * a call and settles it in one `try/finally`, so whatever throws, nothing stays registered.
 */
import { CTRL_CANCEL, CTRL_STAGED_ROWS, CTRL_WORDS } from './shared-buffers.ts';

type State = 'running' | 'stopped' | 'settled';

export class PoolCall {
  readonly id: number;
  readonly ctx: SharedArrayBuffer;
  readonly signal: AbortSignal | undefined;
  /** Rejects when the call is stopped; raced against its work. */
  readonly stopped: Promise<never>;
  readonly #ctrl: Int32Array;
  readonly #reject: (reason: unknown) => void;
  readonly #release: (ctx: SharedArrayBuffer) => void;
  #state: State = 'running';
  #pending = 0;
  #broken = false;
  #released = false;

  constructor(
    id: number,
    ctx: SharedArrayBuffer,
    signal: AbortSignal | undefined,
    release: (ctx: SharedArrayBuffer) => void,
  ) {
    this.id = id;
    this.ctx = ctx;
    this.signal = signal;
    this.#release = release;
    this.#ctrl = new Int32Array(ctx, 0, CTRL_WORDS);
    Atomics.store(this.#ctrl, CTRL_CANCEL, 0);
    let reject!: (reason: unknown) => void;
    this.stopped = new Promise<never>((_, rej) => {
      reject = rej;
    });
    // Raced against the work once dispatched; a stop before that must not be an unhandled rejection.
    this.stopped.catch(() => {});
    this.#reject = reject;
  }

  /** Whether the call may still post tasks. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** Rejects the call now (abort, close, a failed task) and raises the cancel flag for its tasks. */
  stop(reason: unknown): void {
    if (this.#state !== 'running') return;
    this.#state = 'stopped';
    this.#cancel();
    this.#reject(reason);
  }

  /** A task was posted. */
  posted(): void {
    this.#pending++;
  }

  /** A task answered: normally, or abnormally (`failed`: its worker may still hold the buffer). */
  answered(failed: boolean): void {
    this.#pending--;
    if (failed) this.#broken = true;
    this.#maybeRelease();
  }

  /** The caller's promise has settled: cancel what still runs; release if the rule allows. */
  settle(): void {
    this.#state = 'settled';
    this.#cancel();
    this.#maybeRelease();
  }

  /** Raises the cancel flag, and wakes tasks waiting for staged rows so that they see it at once. */
  #cancel(): void {
    Atomics.store(this.#ctrl, CTRL_CANCEL, 1);
    Atomics.notify(this.#ctrl, CTRL_STAGED_ROWS);
  }

  #maybeRelease(): void {
    if (this.#state !== 'settled' || this.#pending > 0 || this.#broken || this.#released) return;
    this.#released = true;
    this.#release(this.ctx);
  }
}

/**
 * The calls in flight of one miner, and their abort signals. One listener per signal however many
 * calls share it (one per call trips Node's MaxListenersExceededWarning beyond 10), removed with
 * the signal's last pending call, so a long-lived signal keeps nothing attached between calls.
 */
export class CallRegistry {
  readonly #active = new Set<PoolCall>();
  readonly #signals = new WeakMap<AbortSignal, { calls: Set<PoolCall>; onAbort: () => void }>();
  readonly #abortError: (signal: AbortSignal) => unknown;
  #nextId = 1;

  constructor(abortError: (signal: AbortSignal) => unknown) {
    this.#abortError = abortError;
  }

  /** Calls registered and not yet settled. */
  get size(): number {
    return this.#active.size;
  }

  /** The number the next call will get. */
  get nextId(): number {
    return this.#nextId;
  }

  /**
   * Registers a call on `ctx`, runs `body` raced against a stop, and settles the call in the same
   * `try/finally`: the one place a call is registered and released.
   */
  async run<T>(
    ctx: SharedArrayBuffer,
    signal: AbortSignal | undefined,
    release: (ctx: SharedArrayBuffer) => void,
    body: (call: PoolCall) => Promise<T>,
  ): Promise<T> {
    const call = new PoolCall(this.#nextId++, ctx, signal, release);
    this.#active.add(call);
    try {
      if (signal !== undefined) this.#watch(signal, call);
      return await Promise.race([body(call), call.stopped]);
    } finally {
      call.settle();
      if (signal !== undefined) this.#unwatch(signal, call);
      this.#active.delete(call);
    }
  }

  /** Stops every call in flight with `reason`. */
  stopAll(reason: unknown): void {
    for (const call of [...this.#active]) call.stop(reason);
  }

  #watch(signal: AbortSignal, call: PoolCall): void {
    let watched = this.#signals.get(signal);
    if (watched === undefined) {
      const calls = new Set<PoolCall>();
      const onAbort = () => {
        this.#signals.delete(signal);
        const error = this.#abortError(signal);
        for (const c of calls) c.stop(error);
      };
      watched = { calls, onAbort };
      this.#signals.set(signal, watched);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    watched.calls.add(call);
  }

  #unwatch(signal: AbortSignal, call: PoolCall): void {
    const watched = this.#signals.get(signal);
    if (watched === undefined || !watched.calls.delete(call) || watched.calls.size > 0) return;
    this.#signals.delete(signal);
    signal.removeEventListener('abort', watched.onAbort);
  }
}
