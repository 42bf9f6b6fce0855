/**
 * Piscina load balancer with call affinity: a thread takes the tasks of one call at a time.
 *
 * An idle thread takes any task. A busy thread takes more tasks (up to `perThread` in flight) only
 * from the call it is working for, so a call's tasks for a thread are posted to it at once and wait
 * in the worker's own queue: each starts the moment the previous one ends, with no round trip
 * through the calling thread in between (which costs most where an idle vCPU wakes slowly; the
 * README's performance section has the figures). Tasks of other calls
 * wait in Piscina's queue for an idle thread, as with one task per thread, so a call is never stuck
 * behind another call's tasks on a thread that is slow or held (and a thread that dies takes only
 * its own call's tasks with it).
 *
 * The call is read from the task's Piscina queue options (`task[Piscina.queueOptionsSymbol]`, see
 * {@link tagCall}), which stay on the calling thread (structured cloning drops symbol keys).
 */
import { Piscina } from 'piscina';

/** Piscina's balancer type (not exported by name from the package root). */
type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;
type PoolWorker = Parameters<LoadBalancer>[1][number];

const QUEUE_OPTIONS = Piscina.queueOptionsSymbol;

/**
 * Marks `task` as belonging to call number `call` for the balancer. A number, not the call's
 * bookkeeping object: the balancer remembers the last call of every thread it has seen, dead ones
 * included, and must not keep a call's buffers alive.
 */
export function tagCall<T extends object>(task: T, call: number): T {
  (task as Record<symbol, unknown>)[QUEUE_OPTIONS] = { call };
  return task;
}

/**
 * The balancer; `perThread` bounds the tasks in flight on one thread. `onQueued` is told each time a
 * task is posted to a thread that is already busy with its call (the miner counts them in `stats`).
 */
export function callAffinityBalancer(perThread: number, onQueued?: () => void): LoadBalancer {
  /** The call each thread last took a task of: while it is busy, the only call it takes more of. */
  const working = new Map<number, number | undefined>();
  return (task, workers) => {
    const call = (task as unknown as Record<symbol, { call?: number } | null>)[QUEUE_OPTIONS]?.call;
    let chosen: PoolWorker | null = null;
    for (const worker of workers) {
      if (worker.terminating || worker.destroyed) continue;
      if (worker.currentUsage === 0) {
        chosen = worker;
        break;
      }
      if (
        call !== undefined &&
        working.get(worker.id) === call &&
        worker.currentUsage < perThread &&
        (chosen === null || worker.currentUsage < chosen.currentUsage)
      )
        chosen = worker;
    }
    if (chosen !== null) {
      if (chosen.currentUsage > 0) onQueued?.();
      working.set(chosen.id, call);
    }
    return chosen;
  };
}
