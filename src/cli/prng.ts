/**
 * A small seeded PRNG (mulberry32): 32 bits of state, full period 2^32, fast and good enough for
 * synthetic benchmark data (not for cryptography). The same seed gives the same sequence on every
 * platform, so `hnm demo` is reproducible.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in `[0, 1)` with 32 random bits. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}
