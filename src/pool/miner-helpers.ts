/** The miner's small helpers: its errors, fresh shared results, and the rejection wrapper. */
import { errorText } from '../validate.ts';
import type { CallArgs } from './args.ts';

export function closedError(): Error {
  return new Error('this HardNegativeMiner is closed; create a new one');
}

export function abortError(signal: AbortSignal): DOMException {
  return new DOMException('This operation was aborted', { name: 'AbortError', cause: signal.reason });
}

export function workerError(cause: unknown): Error {
  return new Error(`hard negative mining failed in a worker thread: ${errorText(cause)}`, { cause });
}

/** A fresh result array in shared memory, owned by the caller. */
export function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/** Turns a synchronous throw into a rejection: the async methods never throw. */
export function settle<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

export function nanPolicy(args: CallArgs<Uint8Array | Int32Array>): 'largest' | 'error' {
  return args.nanLargest ? 'largest' : 'error';
}

/** Copies a result staged in the pool's memory into the caller's array (nothing when it is that array). */
export function copyOut<T extends Uint8Array | Int32Array>(target: T, out: T): T {
  if (target !== out) out.set(target);
  return out;
}
