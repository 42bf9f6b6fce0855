/**
 * Completes a top-k over candidates that ran out of candidates above `-Inf`: sets `out[i] = 1` for
 * the first `need` elements of `start .. end - 1`, in index order, whose loss is `-Inf` and which are
 * not positives. That is where a stable descending ranking of the candidates places them: after every
 * larger loss, ties by index.
 *
 * Needed because the excluded presets (mmdet, ssd_keras) rank positives as `-Inf` (see
 * `prepareRows`), so a candidate whose own loss is `-Inf` ties with them and the stable tie-break
 * alone could pick a positive of lower index. Mining with `k = min(k, liveCount)` and then calling
 * this with `need = k - liveCount` gives exactly the top-k of the candidates. (`-Inf` is never a zero
 * loss, so ssd_keras's skipped zero-loss negatives are not picked here either.)
 *
 * `bits` must be the original loss bits, not `prepareRows`'s output (where skipped zero-loss
 * negatives are `-Inf` too).
 *
 * Cost: O(end - start) at most, stops after the `need`-th element; no allocation.
 */
export function markNegInfCandidates(
  bits: Int32Array,
  positives: Uint8Array,
  start: number,
  end: number,
  need: number,
  out: Uint8Array,
): void {
  for (let i = start; i < end && need > 0; i++) {
    if (bits[i] === -8388608 && positives[i] === 0) {
      out[i] = 1;
      need--;
    }
  }
}
