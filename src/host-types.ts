/**
 * Brand checks that run no user code (no getters, no traps) on hostile values, for error messages
 * and argument checks. In Node they come from `util.types`, reached through Node's
 * `getBuiltinModule` (on the global process object) rather than a static `node:util` import, so the
 * `core` entry's import graph stays free of Node modules and bundles for browsers. Elsewhere, the checks that the
 * language allows are done with the built-ins' own accessors; only Proxy detection has no portable
 * form, so `isProxy` answers false there (a Proxy then fails the typed-array brand check anyway).
 */

interface HostTypes {
  isProxy(value: unknown): boolean;
  isNativeError(value: unknown): boolean;
  isDataView(value: unknown): boolean;
  isArrayBuffer(value: unknown): boolean;
  isSharedArrayBuffer(value: unknown): boolean;
}

type ProcessLike = { getBuiltinModule?: (id: string) => unknown };

function nodeTypes(): HostTypes | undefined {
  const host = (globalThis as { process?: ProcessLike }).process;
  if (typeof host?.getBuiltinModule !== 'function') return undefined;
  try {
    const util = host.getBuiltinModule('node:util') as { types?: HostTypes } | undefined;
    return util?.types;
  } catch {
    return undefined;
  }
}

function accessor(proto: object | undefined, name: string): ((this: unknown) => unknown) | undefined {
  if (proto === undefined) return undefined;
  return Object.getOwnPropertyDescriptor(proto, name)?.get as ((this: unknown) => unknown) | undefined;
}

/** Whether `get` accepts `value` as its receiver: a brand check, since built-in accessors throw on anything else. */
function branded(get: ((this: unknown) => unknown) | undefined, value: unknown): boolean {
  if (get === undefined || value === null || typeof value !== 'object') return false;
  try {
    get.call(value);
    return true;
  } catch {
    return false;
  }
}

const node = nodeTypes();
const arrayBufferLength = accessor(ArrayBuffer.prototype, 'byteLength');
const sharedBufferLength = accessor(globalThis.SharedArrayBuffer?.prototype, 'byteLength');
const dataViewBuffer = accessor(DataView.prototype, 'buffer');

/** Whether `value` is a Proxy (always false where the host offers no way to tell). */
export function isProxy(value: unknown): boolean {
  return node?.isProxy(value) === true;
}

/** Whether `value` is an error object made by the engine or by an `Error` constructor. */
export function isNativeError(value: unknown): boolean {
  if (node !== undefined) return node.isNativeError(value);
  return value instanceof Error;
}

/** Whether `value` is a genuine `ArrayBuffer` (its internal slot, not its prototype). */
export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  // util.types answers without throwing: a failed brand check through the accessor builds an
  // exception, which costs microseconds on every call with a non-matching buffer.
  if (node !== undefined) return node.isArrayBuffer(value);
  return branded(arrayBufferLength, value);
}

/** Whether `value` is a genuine `SharedArrayBuffer`. */
export function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  if (node !== undefined) return node.isSharedArrayBuffer(value);
  return branded(sharedBufferLength, value);
}

/** Whether `value` is a genuine `DataView`. */
export function isDataView(value: unknown): value is DataView {
  if (isProxy(value)) return false;
  if (node !== undefined) return node.isDataView(value);
  return branded(dataViewBuffer, value);
}
