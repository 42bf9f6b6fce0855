/**
 * Order-preserving int32 keys for float32 losses.
 *
 * For IEEE-754 bits `b` (read through an `Int32Array` view of the loss), the key
 *
 *     key = (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)
 *
 * orders exactly as the float values do under signed int32 comparison: the XOR flips the magnitude
 * bits of negative numbers (so a larger magnitude becomes a smaller key), and the subtraction adds 1
 * to every negative key, which lands `-0` (bits 0x80000000, key -1 before the shift) on `+0`'s key 0.
 * So `-0` and `+0` tie, `±Inf` sit at the ends of the finite range and denormals are ordinary values.
 *
 * NaN has no place in this order: positive NaN bits land above `+Inf`, negative ones below `-Inf`.
 * Kernels detect NaN separately (see {@link NAN_PROBE}) and, under `nan: 'largest'`, replace its key
 * with {@link NAN_KEY}, so every NaN ranks above `+Inf` and all NaNs tie, as in PyTorch.
 *
 * The hot loops inline this expression rather than calling {@link orderKey}; this function is the
 * single written-down definition used by the slow paths and the tests.
 */
export function orderKey(bits: number): number {
  return ((bits ^ ((bits >> 31) & 0x7fffffff)) - (bits >> 31)) | 0;
}

/** Key of `+Inf` (bits 0x7f800000). */
export const POS_INF_KEY = 0x7f800000;

/** Key every NaN gets under `nan: 'largest'`: above `+Inf`, the same for all NaNs, so they tie. */
export const NAN_KEY = 0x7fffffff;

/**
 * `((bits & 0x7fffffff) + NAN_PROBE) | 0` is negative exactly when `bits` is a NaN: the magnitude of a
 * NaN is above 0x7f800000, and adding 0x007fffff pushes exactly those past int32's maximum. OR-ing the
 * probe over a row and testing the sign once detects NaN without a branch per element.
 */
export const NAN_PROBE = 0x007fffff;

/** Whether float32 bits encode a NaN. */
export function isNanBits(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}
