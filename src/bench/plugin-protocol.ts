/** Messages between `hnm bench` and a plug-in's worker thread (plugin.ts, plugin-worker.ts). */

/**
 * One call of the plug-in: the batch is `length` float32 at byte `lossAt` of `loss`; `io` holds the
 * counts at `countsAt` (`rows` int32) and the result area at `outAt` (`length` bytes). All shared.
 */
export interface PluginCall {
  readonly id: number;
  readonly loss: SharedArrayBuffer;
  readonly io: SharedArrayBuffer;
  readonly lossAt: number;
  readonly countsAt: number;
  readonly outAt: number;
  readonly length: number;
  readonly rows: number;
  readonly cols: number;
}

/**
 * The worker's answers: the module loaded (or why not); a call's result was copied into the result
 * area (`done`), was not a mask (`failed`, the report's words), or the plug-in threw (`threw`, its
 * message).
 */
export type PluginReply =
  | { readonly type: 'loaded' }
  | { readonly type: 'load-error'; readonly message: string }
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'failed' | 'threw'; readonly id: number; readonly message: string };
