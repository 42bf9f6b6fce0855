/**
 * Whether a call runs inline on the calling thread or on the pool, decided from measurements.
 *
 * Where a dispatched call starts to pay depends on the machine, its load, the input kind (a plain
 * `Float32Array` is staged into shared memory, an `allocLoss` batch is read in place) and whether the
 * result is copied out; no constant fits them all (`node dist/bench/crossover.bench.js`). So the
 * miner times its own calls: per call shape (method, input kind, result kind, and the size's power of
 * two) it keeps the second best of the last few per-element times of each path (see `figure`),
 * takes the faster, and now and then runs the other path to keep its figure current (a new shape's
 * first probe after `FIRST_GAP / 2` calls: where the static threshold is wrong, the sooner the
 * better). The gap between probes doubles each time the probe loses (up to `MAX_GAP` calls), so once
 * settled they cost at most a few percent; it falls back to `FIRST_GAP` when the preferred path
 * changes, and jumps at once to `MAX_GAP` or more (see `PROBE_SHARE`) when the other path measured
 * more than `FAR` times slower, as soon as the probe run that measured it ends (a batch of a few
 * rows sent to the pool, say: there is nothing to learn soon, and each probe costs a round trip).
 * Before a path has a figure, the static threshold decides. A size below `minPooled(threads)` never dispatches (a round trip alone costs more than the
 * threads can save).
 *
 * A probe is a run of `PROBE_RUN` calls, and the first call after the path changes is not recorded:
 * a dispatched call after a run of inline ones finds its threads asleep and their caches cold (and
 * an inline one after dispatched ones, the calling thread's), which measured up to 2x slower than the
 * steady state, enough to keep a default miner on the slower path for good.
 *
 * With an explicit threshold (`inlineBelow` option) the decision is static and deterministic.
 */

export const METHOD_MASK = 0;
export const METHOD_RANK = 1;
export const METHOD_WIDE = 2;

/**
 * Calls with fewer elements than this always run inline when the decision is measured: a dispatch
 * round trip alone (~60 us here for B = 1) costs about what the kernel takes for 2^16 elements, so
 * the pool cannot win below it, and probing it there cost a default miner 10-15% at B = 2
 * (`node dist/bench/crossover.bench.js --results reused`).
 */
export const MIN_POOLED = 1 << 16;

/**
 * The smallest call the measured decision dispatches on a pool of `threads`: a dispatch saves at
 * most the share of the kernel time the other threads take, `n * t * (1 - 1 / threads)`, and must
 * save more than its round trip, about the kernel time of `MIN_POOLED` elements (`t` per element),
 * so `n > MIN_POOLED * threads / (threads - 1)`: 2^17 on 2 threads (where probing B = 8 of SSD's
 * 8732 cost a default miner 10-14%, `node dist/bench/crossover.bench.js --results reused`), close to
 * 2^16 on many. A 1-thread pool saves no kernel time; it keeps the 2-thread bound.
 */
export function minPooled(threads: number): number {
  return threads <= 2 ? 2 * MIN_POOLED : Math.ceil((MIN_POOLED * threads) / (threads - 1));
}
const BUCKETS = 40;
const SLOTS = 3 * 2 * 2 * BUCKETS;
const SAMPLES = 4;
const FIRST_GAP = 8;
const MAX_GAP = 256;
/** The other path measured this many times slower: probe it only every `MAX_GAP` calls or more. */
const FAR = 1.5;
/**
 * Probes of a far slower path cost at most about 1 / `PROBE_SHARE` of the time: the gap grows past
 * `MAX_GAP` (up to `MAX_FAR_GAP` calls) when the last probe run took more than `MAX_GAP /
 * PROBE_SHARE` calls' time. A probe's first call is cold, so where calls are short its cost is mostly
 * waking the other path: at B = 16 on 2 threads a probe run took ~1.5 ms against 0.13 ms a call, and
 * probes every 256 calls cost ~5%.
 */
const PROBE_SHARE = 100;
const MAX_FAR_GAP = 4096;
/** Calls in one probe of the other path (the first is not recorded, see above). */
const PROBE_RUN = 2;
const NO_PATH = 2;

/** A call's shape: method, input kind, whether the result is copied out, and the size's power of two. */
export function shapeSlot(method: number, n: number, lossShared: boolean, copied: boolean): number {
  const bucket = Math.min(BUCKETS - 1, Math.floor(Math.log2(Math.max(1, n))));
  return ((method * 2 + (lossShared ? 1 : 0)) * 2 + (copied ? 1 : 0)) * BUCKETS + bucket;
}

/**
 * A path's figure for a shape: the second best of its last `SAMPLES` per-element times (the best while
 * it has only one). Not the best: dispatched calls vary far more than inline ones (a call that finds
 * both threads awake and their caches warm can take half the usual time), and comparing one lucky
 * dispatch against steady inline calls sent a default miner to the pool at B = 16, where its calls
 * took 1.7x the inline time (`node dist/bench/crossover.bench.js --results reused --sizes 8,16`).
 */
function figure(samples: Float64Array, slot: number): number {
  let min = Number.POSITIVE_INFINITY;
  let second = Number.POSITIVE_INFINITY;
  for (let i = slot * SAMPLES; i < (slot + 1) * SAMPLES; i++) {
    const v = samples[i]!;
    if (v < min) {
      second = min;
      min = v;
    } else if (v < second) second = v;
  }
  return second === Number.POSITIVE_INFINITY ? min : second;
}

export class InlineDecision {
  /** The static threshold: calls below it run inline (always, when `measured` is false). */
  readonly threshold: number;
  /** Whether the decision is measured (no explicit threshold was given). */
  readonly measured: boolean;
  readonly #inline = new Float64Array(SLOTS * SAMPLES).fill(Number.POSITIVE_INFINITY);
  readonly #pooled = new Float64Array(SLOTS * SAMPLES).fill(Number.POSITIVE_INFINITY);
  readonly #inlineNext = new Uint8Array(SLOTS);
  readonly #pooledNext = new Uint8Array(SLOTS);
  readonly #gap = new Int32Array(SLOTS);
  readonly #countdown = new Int32Array(SLOTS).fill(1);
  /** 0: no preference yet, 1: inline, 2: pooled. */
  readonly #preferred = new Uint8Array(SLOTS);
  /** Calls left in the current probe run. */
  readonly #probeLeft = new Uint8Array(SLOTS);
  /** The path of the last call recorded per shape: 1 inline, 0 pooled, `NO_PATH` none yet. */
  readonly #lastPath = new Uint8Array(SLOTS).fill(NO_PATH);
  /** Milliseconds the probe calls since the last scheduled probe took (cold first calls included). */
  readonly #probeMs = new Float64Array(SLOTS);
  /**
   * The path of the probe run issued last (1 inline, 2 pooled), until the first decision after it
   * (0 then): set where the probe is issued, not where a call is recorded, since a dispatched call
   * still in flight when the preference changed is recorded on what is then the other path.
   */
  readonly #probed = new Uint8Array(SLOTS);

  /** Calls with fewer elements always run inline when the decision is measured ({@link minPooled}). */
  readonly minPooled: number;

  constructor(threshold: number, measured: boolean, minPooledElements = MIN_POOLED) {
    this.threshold = threshold;
    this.measured = measured;
    this.minPooled = minPooledElements;
  }

  /** Whether a call of `n` elements with shape `slot` runs inline. Cost: O(1). */
  inline(slot: number, n: number): boolean {
    if (!this.measured) return n < this.threshold;
    if (n < this.minPooled) return true;
    const a = figure(this.#inline, slot);
    const b = figure(this.#pooled, slot);
    const inline =
      a === Number.POSITIVE_INFINITY || b === Number.POSITIVE_INFINITY ? n < this.threshold : a <= b;
    const preferred = inline ? 1 : 2;
    if (this.#preferred[slot] !== preferred) {
      this.#gap[slot] = this.#preferred[slot] === 0 ? FIRST_GAP / 2 : FIRST_GAP;
      this.#preferred[slot] = preferred;
      this.#countdown[slot] = this.#gap[slot]!;
    }
    if (this.#probeLeft[slot]! > 0) {
      this.#probeLeft[slot]!--;
      return !inline;
    }
    const measuredBoth = a !== Number.POSITIVE_INFINITY && b !== Number.POSITIVE_INFINITY;
    const far = measuredBoth && (inline ? b > FAR * a : a > FAR * b);
    const probed = this.#probed[slot]!;
    this.#probed[slot] = 0;
    if (far && probed !== 0 && probed !== preferred) {
      // A probe run has just measured the other path far slower: space the next probe by that now,
      // not by the gap set when this one was scheduled, knowing less (a new shape's second probe
      // came 8 calls after its first, which cost ~4% over the first few hundred calls at B = 16,
      // `node dist/bench/crossover.bench.js --sizes 16`). Not after a probe that won: the path it
      // displaced has a stale figure, and gets the usual early probe.
      const gap = this.#farGap(slot, (inline ? a : b) * n);
      if (gap > this.#gap[slot]!) {
        this.#countdown[slot]! += gap - this.#gap[slot]!;
        this.#gap[slot] = gap;
      }
    }
    if (--this.#countdown[slot]! > 0) return inline;
    const gap = far ? this.#farGap(slot, (inline ? a : b) * n) : Math.min(MAX_GAP, this.#gap[slot]! * 2);
    this.#probeMs[slot] = 0;
    this.#gap[slot] = gap;
    this.#countdown[slot] = this.#gap[slot]!;
    this.#probeLeft[slot] = PROBE_RUN - 1;
    this.#probed[slot] = inline ? 2 : 1;
    return !inline;
  }

  /**
   * Calls between probes of a far slower path: `MAX_GAP`, or more where the last probe run took
   * more than `MAX_GAP / PROBE_SHARE` calls' time (`callMs` a call of the preferred path), up to
   * `MAX_FAR_GAP`.
   */
  #farGap(slot: number, callMs: number): number {
    const byCost = Math.ceil((PROBE_SHARE * this.#probeMs[slot]!) / callMs);
    // A call measured at 0 ms (below the clock's resolution) spaces probes as far as allowed.
    return Number.isFinite(byCost) ? Math.min(MAX_FAR_GAP, Math.max(MAX_GAP, byCost)) : MAX_FAR_GAP;
  }

  /** Records a call of `n` elements with shape `slot` that took `ms` on the given path. */
  record(slot: number, inline: boolean, n: number, ms: number): void {
    if (!this.measured || n < this.minPooled || !(ms >= 0)) return;
    const path = inline ? 1 : 0;
    if (this.#preferred[slot] === (inline ? 2 : 1)) this.#probeMs[slot]! += ms; // a probe
    const last = this.#lastPath[slot]!;
    this.#lastPath[slot] = path;
    if (last !== NO_PATH && last !== path) return; // the first call after a switch: cold, see above
    const perElement = ms / n;
    if (inline) {
      this.#inline[slot * SAMPLES + this.#inlineNext[slot]!] = perElement;
      this.#inlineNext[slot] = (this.#inlineNext[slot]! + 1) % SAMPLES;
    } else {
      this.#pooled[slot * SAMPLES + this.#pooledNext[slot]!] = perElement;
      this.#pooledNext[slot] = (this.#pooledNext[slot]! + 1) % SAMPLES;
    }
  }
}
