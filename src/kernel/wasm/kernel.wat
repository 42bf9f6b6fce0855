;; The mask kernel's WebAssembly: one module over one imported, per-thread memory `e.m` (see
;; wasm-kernel.ts for the layout). Assembled by `npm run wasm` (wabt) into modules.ts; test/wasm.test.ts
;; reassembles it and compares. Every function computes exactly what its JavaScript counterpart in
;; select-rows.ts computes, so the bytes of a mask do not depend on which one ran.
;; One module on purpose (past the ~400-line guideline): its functions share one memory layout and
;; call each other (the select under the fused gather), and a module per function would copy both.
(module
  (import "e" "m" (memory 1))

  ;; maxLanes(v) / minLanes(v): the largest / smallest of the four signed i32 lanes of `v`.
  (func $maxLanes (param $v v128) (result i32)
    (local.set $v (i32x4.max_s (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (i32x4.extract_lane 0
      (i32x4.max_s (local.get $v) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v)))))
  (func $minLanes (param $v v128) (result i32)
    (local.set $v (i32x4.min_s (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (i32x4.extract_lane 0
      (i32x4.min_s (local.get $v) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v)))))

  ;; gather(row, n4, limit, cand, keys) -> count, or -1 if an element is a NaN.
  ;;
  ;; The candidate pass over a staged row: for the `n4` int32 float bits at byte offset `row` (`n4` a
  ;; multiple of 4), writes at `cand` the columns `i`, in increasing order, of every element whose
  ;; order key without the -0 fix (`b ^ ((b >> 31) & 0x7fffffff)`) is `>= limit`, and at `keys`
  ;; their full order keys (-0 on +0). NaN probe: `((b & 0x7fffffff) + 0x7fffff) < 0`.
  ;; Per step of four: compare with the limit, take the 4-bit lane mask, store the four indices and
  ;; the four keys shuffled by table entry `mask` at byte 0 (the selected lanes first), and advance
  ;; the count by the mask's popcount. Branch-free; each store writes 4 lanes, so `cand` and `keys`
  ;; need 3 entries of slack.
  (func $gather (export "gather")
    (param $row i32) (param $n4 i32) (param $limit i32) (param $cand i32) (param $keys i32)
    (result i32)
    (local $end i32) (local $count i32) (local $mask i32)
    (local $indices v128) (local $limits v128) (local $probe v128) (local $v v128)
    (local $sign v128) (local $kx v128) (local $shuffle v128)
    (local.set $end (i32.add (local.get $row) (i32.shl (local.get $n4) (i32.const 2))))
    (local.set $limits (i32x4.splat (local.get $limit)))
    (local.set $indices (v128.const i32x4 0 1 2 3))
    (loop $step
      ;; probe |= (v & 0x7fffffff) + 0x7fffff
      (local.set $v (v128.load (local.get $row)))
      (local.set $probe
        (v128.or (local.get $probe)
          (i32x4.add
            (v128.and (local.get $v) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
            (v128.const i32x4 0x7fffff 0x7fffff 0x7fffff 0x7fffff))))
      ;; sign = v >> 31; kx = v ^ (sign & 0x7fffffff); mask = bitmask(kx >= limits)
      (local.set $sign (i32x4.shr_s (local.get $v) (i32.const 31)))
      (local.set $kx
        (v128.xor (local.get $v)
          (v128.and (local.get $sign) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))))
      (local.set $mask (i32x4.bitmask (i32x4.ge_s (local.get $kx) (local.get $limits))))
      (local.set $shuffle (v128.load (i32.shl (local.get $mask) (i32.const 4))))
      (v128.store align=4
        (i32.add (local.get $cand) (i32.shl (local.get $count) (i32.const 2)))
        (i8x16.swizzle (local.get $indices) (local.get $shuffle)))
      ;; the full key: kx - sign puts -0 on +0
      (v128.store align=4
        (i32.add (local.get $keys) (i32.shl (local.get $count) (i32.const 2)))
        (i8x16.swizzle (i32x4.sub (local.get $kx) (local.get $sign)) (local.get $shuffle)))
      (local.set $count (i32.add (local.get $count) (i32.popcnt (local.get $mask))))
      (local.set $indices
        (i32x4.add (local.get $indices) (v128.const i32x4 4 4 4 4)))
      (br_if $step
        (i32.lt_u
          (local.tee $row (i32.add (local.get $row) (i32.const 16)))
          (local.get $end))))
    (if (i32x4.bitmask (local.get $probe)) (then (return (i32.const -1))))
    (local.get $count))

  ;; gatherPositive(row, n8, limit, cand, keys) -> count, or -1 if an element is a NaN
  ;;
  ;; `gather` for a positive limit (the usual case: losses are >= 0), eight elements a step (`n8` a
  ;; multiple of 8): the raw bits of a non-negative float already order like its key, and every
  ;; negative float (its bits negative) lies below a positive limit, so the compare reads the bits
  ;; as they are, and the keys stored are the bits themselves (for a candidate, bits == key). NaN:
  ;; the largest magnitude seen above +Inf's. `cand` and `keys` need 7 entries of slack.
  (func $gatherPositive (export "gatherPositive")
    (param $row i32) (param $n8 i32) (param $limit i32) (param $cand i32) (param $keys i32)
    (result i32)
    (local $end i32) (local $count i32) (local $mask i32)
    (local $indices v128) (local $limits v128) (local $probe v128) (local $v v128) (local $shuffle v128)
    (local.set $end (i32.add (local.get $row) (i32.shl (local.get $n8) (i32.const 2))))
    (local.set $limits (i32x4.splat (local.get $limit)))
    (local.set $indices (v128.const i32x4 0 1 2 3))
    (loop $step
      ;; elements 0-3 of the step
      (local.set $v (v128.load (local.get $row)))
      (local.set $probe
        (i32x4.max_u (local.get $probe)
          (v128.and (local.get $v) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))))
      (local.set $mask (i32x4.bitmask (i32x4.ge_s (local.get $v) (local.get $limits))))
      (local.set $shuffle (v128.load (i32.shl (local.get $mask) (i32.const 4))))
      (v128.store align=4
        (i32.add (local.get $cand) (i32.shl (local.get $count) (i32.const 2)))
        (i8x16.swizzle (local.get $indices) (local.get $shuffle)))
      (v128.store align=4
        (i32.add (local.get $keys) (i32.shl (local.get $count) (i32.const 2)))
        (i8x16.swizzle (local.get $v) (local.get $shuffle)))
      (local.set $count (i32.add (local.get $count) (i32.popcnt (local.get $mask))))
      ;; elements 4-7
      (local.set $v (v128.load offset=16 (local.get $row)))
      (local.set $probe
        (i32x4.max_u (local.get $probe)
          (v128.and (local.get $v) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))))
      (local.set $mask (i32x4.bitmask (i32x4.ge_s (local.get $v) (local.get $limits))))
      (local.set $shuffle (v128.load (i32.shl (local.get $mask) (i32.const 4))))
      (v128.store align=4
        (i32.add (local.get $cand) (i32.shl (local.get $count) (i32.const 2)))
        (i8x16.swizzle
          (i32x4.add (local.get $indices) (v128.const i32x4 4 4 4 4))
          (local.get $shuffle)))
      (v128.store align=4
        (i32.add (local.get $keys) (i32.shl (local.get $count) (i32.const 2)))
        (i8x16.swizzle (local.get $v) (local.get $shuffle)))
      (local.set $count (i32.add (local.get $count) (i32.popcnt (local.get $mask))))
      (local.set $indices (i32x4.add (local.get $indices) (v128.const i32x4 8 8 8 8)))
      (br_if $step
        (i32.lt_u
          (local.tee $row (i32.add (local.get $row) (i32.const 32)))
          (local.get $end))))
    (if (i32x4.bitmask
          (i32x4.gt_u (local.get $probe) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
      (then (return (i32.const -1))))
    (local.get $count))

  ;; mine(row, n16, limit, k, cols, wk, wi, hist, mask) -> 0, 1 (too few candidates) or -1 (a NaN)
  ;;
  ;; The usual row, whole: gather and select for a positive limit (`limit = pivot << 13 > 0`), the
  ;; `k` (`0 < k`) elements ranked first marked in the mask row at `mask` (`n16` bytes, zeroed here;
  ;; on 1 or -1 it is left zero). Rows of at most 65520 elements (columns fit 16 bits), staged at
  ;; `row` and padded with -Inf to `n16`, a multiple of 16.
  ;;
  ;; The scan, 16 elements a step: the raw bits of a non-negative float order like its key and every
  ;; negative float lies below a positive limit, so the compare is on the bits (`bits > limit - 1`).
  ;; The 16 compares narrow to one 16-bit mask; each half's columns are written as 8 lanes of 16 bits
  ;; (the half's set lanes, in order, from the 256-entry table at byte 41216, TABLE16_AT in
  ;; wasm-kernel.ts, plus the half's first column), and the count advances by the half's popcount:
  ;; branch-free, one table load, one add and one store per 8 elements. The running signed maximum
  ;; gives the largest key and catches a positive NaN (above +Inf's bits); the unsigned maximum
  ;; catches a negative one (above -Inf's).
  ;;
  ;; With more than `k` candidates, the select's first level runs over the columns (two scalar
  ;; passes: histogram, then mark and keep), and `select` finishes on the kept digit in place.
  ;; `hist` (256 x 4 i32, as for `select`) must be zero and is left zero. `cols` (u16) needs 8
  ;; entries of slack; `wk` / `wi` room for the candidates.
  (func $mine (export "mine")
    (param $row i32) (param $n16 i32) (param $limit i32) (param $k i32) (param $cols i32)
    (param $wk i32) (param $wi i32) (param $hist i32) (param $mask i32) (result i32)
    (local $at i32) (local $end i32) (local $count i32) (local $bits i32) (local $half i32) (local $j i32)
    (local $col i32) (local $b i32) (local $lo i32) (local $hi i32) (local $shift i32) (local $d i32)
    (local $digit i32) (local $kept i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $limits v128)
    (local $maxS v128) (local $maxU v128) (local $lanes v128) (local $lanesHi v128)
    (memory.fill (local.get $mask) (i32.const 0) (local.get $n16))
    (local.set $at (local.get $row))
    (local.set $end (i32.add (local.get $row) (i32.shl (local.get $n16) (i32.const 2))))
    (local.set $limits (i32x4.splat (i32.sub (local.get $limit) (i32.const 1))))
    (local.set $maxS (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
    (local.set $lanesHi (v128.const i16x8 8 8 8 8 8 8 8 8))
    (loop $step
      (local.set $v0 (v128.load offset=0 (local.get $at)))
      (local.set $v1 (v128.load offset=16 (local.get $at)))
      (local.set $v2 (v128.load offset=32 (local.get $at)))
      (local.set $v3 (v128.load offset=48 (local.get $at)))
      (local.set $maxS
        (i32x4.max_s
          (i32x4.max_s (local.get $maxS) (i32x4.max_s (local.get $v0) (local.get $v1)))
          (i32x4.max_s (local.get $v2) (local.get $v3))))
      (local.set $maxU
        (i32x4.max_u
          (i32x4.max_u (local.get $maxU) (i32x4.max_u (local.get $v0) (local.get $v1)))
          (i32x4.max_u (local.get $v2) (local.get $v3))))
      (local.set $bits
        (i8x16.bitmask
          (i8x16.narrow_i16x8_s
            (i16x8.narrow_i32x4_s
              (i32x4.gt_s (local.get $v0) (local.get $limits))
              (i32x4.gt_s (local.get $v1) (local.get $limits)))
            (i16x8.narrow_i32x4_s
              (i32x4.gt_s (local.get $v2) (local.get $limits))
              (i32x4.gt_s (local.get $v3) (local.get $limits))))))
      ;; elements 0-7, then 8-15: their set lanes' columns, in order
      (local.set $half (i32.and (local.get $bits) (i32.const 255)))
      (v128.store align=2
        (i32.add (local.get $cols) (i32.shl (local.get $count) (i32.const 1)))
        (i16x8.add (local.get $lanes) (v128.load offset=41216 (i32.shl (local.get $half) (i32.const 4)))))
      (local.set $count (i32.add (local.get $count) (i32.popcnt (local.get $half))))
      (local.set $half (i32.shr_u (local.get $bits) (i32.const 8)))
      (v128.store align=2
        (i32.add (local.get $cols) (i32.shl (local.get $count) (i32.const 1)))
        (i16x8.add (local.get $lanesHi) (v128.load offset=41216 (i32.shl (local.get $half) (i32.const 4)))))
      (local.set $count (i32.add (local.get $count) (i32.popcnt (local.get $half))))
      (local.set $lanes (i16x8.add (local.get $lanes) (v128.const i16x8 16 16 16 16 16 16 16 16)))
      (local.set $lanesHi (i16x8.add (local.get $lanesHi) (v128.const i16x8 16 16 16 16 16 16 16 16)))
      (br_if $step
        (i32.lt_u (local.tee $at (i32.add (local.get $at) (i32.const 64))) (local.get $end))))
    ;; a NaN: signed bits above +Inf's, or unsigned above -Inf's
    (if (i32.or
          (i32x4.bitmask
            (i32x4.gt_s (local.get $maxS) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
          (i32x4.bitmask
            (v128.not
              (i32x4.eq
                (i32x4.max_u (local.get $maxU) (v128.const i32x4 0xff800000 0xff800000 0xff800000 0xff800000))
                (v128.const i32x4 0xff800000 0xff800000 0xff800000 0xff800000)))))
      (then (return (i32.const -1))))
    (if (i32.lt_u (local.get $count) (local.get $k)) (then (return (i32.const 1))))
    (if (i32.eq (local.get $count) (local.get $k))
      (then
        (loop $all
          (i32.store8
            (i32.add (local.get $mask)
              (i32.load16_u (i32.add (local.get $cols) (i32.shl (local.get $j) (i32.const 1)))))
            (i32.const 1))
          (br_if $all (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $count))))
        (return (i32.const 0))))
    ;; The select's first level, here over the 16-bit columns and the staged row (no key or index
    ;; copied out first). Every candidate is positive, so its bits are its key, and those of the
    ;; limit and of the row's maximum bound them: the digit is the 8 bits below the highest bit
    ;; where the bounds differ (the bits above it are the same for every candidate).
    (local.set $hi (call $maxLanes (local.get $maxS)))
    (local.set $shift (i32.sub (i32.const 24) (i32.clz (i32.xor (local.get $limit) (local.get $hi)))))
    (local.set $shift (select (local.get $shift) (i32.const 0) (i32.gt_s (local.get $shift) (i32.const 0))))
    ;; the digits' histogram, each digit counted four ways (entry 4 * digit + (j & 3))
    (local.set $at (local.get $cols))
    (local.set $end (i32.add (local.get $cols) (i32.shl (local.get $count) (i32.const 1))))
    (loop $count
      (local.set $b
        (i32.load (i32.add (local.get $row) (i32.shl (i32.load16_u (local.get $at)) (i32.const 2)))))
      (local.set $d
        (i32.add
          (i32.add (local.get $hist)
            (i32.shl (i32.and (i32.shr_u (local.get $b) (local.get $shift)) (i32.const 255)) (i32.const 4)))
          (i32.shl (i32.and (local.get $at) (i32.const 6)) (i32.const 1))))
      (i32.store (local.get $d) (i32.add (i32.load (local.get $d)) (i32.const 1)))
      (br_if $count (i32.lt_u (local.tee $at (i32.add (local.get $at) (i32.const 2))) (local.get $end))))
    ;; the digit holding the k-th largest, scanning down from the maximum's; then zero the histogram
    (local.set $lo (i32.and (i32.shr_u (local.get $limit) (local.get $shift)) (i32.const 255)))
    (local.set $hi (i32.and (i32.shr_u (local.get $hi) (local.get $shift)) (i32.const 255)))
    (local.set $digit (local.get $hi))
    (block $found
      (loop $scan
        (local.set $d (i32.add (local.get $hist) (i32.shl (local.get $digit) (i32.const 4))))
        (local.set $b
          (i32.add
            (i32.add (i32.load offset=0 (local.get $d)) (i32.load offset=4 (local.get $d)))
            (i32.add (i32.load offset=8 (local.get $d)) (i32.load offset=12 (local.get $d)))))
        (br_if $found (i32.ge_u (local.get $b) (local.get $k)))
        (local.set $k (i32.sub (local.get $k) (local.get $b)))
        (local.set $digit (i32.sub (local.get $digit) (i32.const 1)))
        (br $scan)))
    (memory.fill
      (i32.add (local.get $hist) (i32.shl (local.get $lo) (i32.const 4)))
      (i32.const 0)
      (i32.shl (i32.add (i32.sub (local.get $hi) (local.get $lo)) (i32.const 1)) (i32.const 4)))
    ;; mark the candidates of higher digits; keep that digit's keys and columns, in index order
    (local.set $at (local.get $cols))
    (loop $split
      (local.set $col (i32.load16_u (local.get $at)))
      (local.set $b (i32.load (i32.add (local.get $row) (i32.shl (local.get $col) (i32.const 2)))))
      (local.set $d (i32.and (i32.shr_u (local.get $b) (local.get $shift)) (i32.const 255)))
      (i32.store8 (i32.add (local.get $mask) (local.get $col)) (i32.gt_u (local.get $d) (local.get $digit)))
      (i32.store (i32.add (local.get $wk) (i32.shl (local.get $kept) (i32.const 2))) (local.get $b))
      (i32.store (i32.add (local.get $wi) (i32.shl (local.get $kept) (i32.const 2))) (local.get $col))
      (local.set $kept (i32.add (local.get $kept) (i32.eq (local.get $d) (local.get $digit))))
      (br_if $split (i32.lt_u (local.tee $at (i32.add (local.get $at) (i32.const 2))) (local.get $end))))
    ;; the k still needed among them (the select works in place)
    (call $select (local.get $wk) (local.get $wi) (local.get $kept) (local.get $k) (local.get $wk)
      (local.get $wi) (local.get $hist) (local.get $mask))
    (i32.const 0))

  ;; select(keys, cand, c, k, wk, wi, hist, mask)
  ;;
  ;; The radix select over `c` candidates (their order keys at `keys`, columns at `cand`, in index
  ;; order). For `0 < k < c`: sets the byte `mask + column` to 1 for the `k` candidates ranked first
  ;; in stable descending order (larger key first, equal keys by index) and to 0 for the others
  ;; (those bytes must be 0 or are overwritten; no other byte is touched). `wk`/`wi` (`c` entries
  ;; each) are scratch; `hist` (256 x 4 i32: each digit counted four ways, entry `4 * digit + (j & 3)`,
  ;; so runs of equal digits do not wait on one counter's last store) must be zero and is left zero.
  ;;
  ;; Each level takes the highest 8 bits where the kept keys differ (keys read in unsigned order,
  ;; `key ^ 0x80000000`), histograms that digit, finds the digit holding the need-th largest,
  ;; marks every kept entry of a higher digit and keeps those of that digit, in index order. It
  ;; stops once the kept keys are all equal (they are the threshold) or all needed, and marks the
  ;; first `need` of them: the stable tie-break. Each level narrows the kept keys' range, so there
  ;; are at most four. Branch-free: every kept entry's byte is stored (1 above the digit, else 0)
  ;; and the kept count advances by the compare.
  (func $select (export "select")
    (param $keys i32) (param $cand i32) (param $c i32) (param $k i32) (param $wk i32)
    (param $wi i32) (param $hist i32) (param $mask i32)
    (local $srcK i32) (local $srcI i32) (local $m i32) (local $need i32)
    (local $j i32) (local $lo i32) (local $hi i32) (local $shift i32) (local $digit i32)
    (local $kept i32) (local $u i32) (local $d i32) (local $idx i32) (local $loD i32)
    (local $hiD i32)
    (local.set $srcK (local.get $keys))
    (local.set $srcI (local.get $cand))
    (local.set $m (local.get $c))
    (local.set $need (local.get $k))
    (block $done
      (loop $level ;; m >= need >= 1 here
        ;; lo, hi = min, max of the kept keys (unsigned order)
        (local.set $j (i32.const 0))
        (local.set $lo (i32.const -1))
        (local.set $hi (i32.const 0))
        (loop $minmax
          (local.set $u
            (i32.xor
              (i32.load (i32.add (local.get $srcK) (i32.shl (local.get $j) (i32.const 2))))
              (i32.const 0x80000000)))
          (local.set $lo
            (select (local.get $u) (local.get $lo) (i32.lt_u (local.get $u) (local.get $lo))))
          (local.set $hi
            (select (local.get $u) (local.get $hi) (i32.gt_u (local.get $u) (local.get $hi))))
          (br_if $minmax
            (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $m))))
        ;; all equal (they are the threshold), or all needed: done
        (br_if $done
          (i32.or
            (i32.eq (local.get $lo) (local.get $hi))
            (i32.eq (local.get $need) (local.get $m))))
        ;; shift = max(width - 8, 0), width = 32 - clz(lo ^ hi)
        (local.set $shift
          (i32.sub (i32.const 24) (i32.clz (i32.xor (local.get $lo) (local.get $hi)))))
        (local.set $shift
          (select (local.get $shift) (i32.const 0) (i32.gt_s (local.get $shift) (i32.const 0))))
        ;; hist[digit(key)]++ for every kept key
        (local.set $j (i32.const 0))
        (loop $count
          (local.set $d
            (i32.add (local.get $hist)
              (i32.shl
                (i32.or
                  (i32.shl
                    (i32.and
                      (i32.shr_u
                        (i32.xor
                          (i32.load (i32.add (local.get $srcK) (i32.shl (local.get $j) (i32.const 2))))
                          (i32.const 0x80000000))
                        (local.get $shift))
                      (i32.const 255))
                    (i32.const 2))
                  (i32.and (local.get $j) (i32.const 3)))
                (i32.const 2))))
          (i32.store (local.get $d) (i32.add (i32.load (local.get $d)) (i32.const 1)))
          (br_if $count
            (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $m))))
        ;; digit = the one holding the need-th largest, scanning down from hi's
        (local.set $loD (i32.and (i32.shr_u (local.get $lo) (local.get $shift)) (i32.const 255)))
        (local.set $hiD (i32.and (i32.shr_u (local.get $hi) (local.get $shift)) (i32.const 255)))
        (local.set $digit (local.get $hiD))
        (block $found
          (loop $scan
            (local.set $d (i32.add (local.get $hist) (i32.shl (local.get $digit) (i32.const 4))))
            (local.set $u
              (i32.add
                (i32.add (i32.load offset=0 (local.get $d)) (i32.load offset=4 (local.get $d)))
                (i32.add (i32.load offset=8 (local.get $d)) (i32.load offset=12 (local.get $d)))))
            (br_if $found (i32.ge_u (local.get $u) (local.get $need)))
            (local.set $need (i32.sub (local.get $need) (local.get $u)))
            (local.set $digit (i32.sub (local.get $digit) (i32.const 1)))
            (br $scan)))
        ;; hist[lo's digit .. hi's digit] = 0
        (memory.fill
          (i32.add (local.get $hist) (i32.shl (local.get $loD) (i32.const 4)))
          (i32.const 0)
          (i32.shl (i32.add (i32.sub (local.get $hiD) (local.get $loD)) (i32.const 1)) (i32.const 4)))
        ;; higher digits are marked; this digit's entries are kept (in wk / wi, in index order)
        (local.set $kept (i32.const 0))
        (local.set $j (i32.const 0))
        (loop $split
          (local.set $u (i32.load (i32.add (local.get $srcK) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $idx (i32.load (i32.add (local.get $srcI) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $d
            (i32.and
              (i32.shr_u (i32.xor (local.get $u) (i32.const 0x80000000)) (local.get $shift))
              (i32.const 255)))
          (i32.store8 (i32.add (local.get $mask) (local.get $idx)) (i32.gt_u (local.get $d) (local.get $digit)))
          (i32.store (i32.add (local.get $wk) (i32.shl (local.get $kept) (i32.const 2))) (local.get $u))
          (i32.store (i32.add (local.get $wi) (i32.shl (local.get $kept) (i32.const 2))) (local.get $idx))
          (local.set $kept (i32.add (local.get $kept) (i32.eq (local.get $d) (local.get $digit))))
          (br_if $split
            (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $m))))
        (local.set $m (local.get $kept))
        (local.set $srcK (local.get $wk))
        (local.set $srcI (local.get $wi))
        (br $level)))
    ;; the first `need` kept entries, in index order
    (local.set $j (i32.const 0))
    (loop $take
      (i32.store8
        (i32.add (local.get $mask)
          (i32.load (i32.add (local.get $srcI) (i32.shl (local.get $j) (i32.const 2)))))
        (i32.const 1))
      (br_if $take
        (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $need)))))

  ;; sample(row, n, need, hist, keys) -> pivot (`key >> 13`), or 0x100000 for the whole-row path
  ;;
  ;; `samplePivot` in select-rows.ts over a staged row of `n >= 2048` float bits: the keys of 32 runs
  ;; of 8 neighbours spaced `n / 32` apart go to `keys` (256 i32); an 11-bit histogram of their top
  ;; bits (`hist`, 2048 i32, zero on entry and on return), then an 8-bit one of the next bits within
  ;; the bucket reached, place the pivot at the sample element of rank `need` (computed by the caller:
  ;; the expected rank of the k-th largest plus a margin). When ties put more than 64 sample elements
  ;; at or above it, answers the whole-row path. A pivot of 0 becomes -1 (so -0 stays with +0).
  (func $sample (export "sample")
    (param $row i32) (param $n i32) (param $need i32) (param $hist i32) (param $keys i32) (result i32)
    (local $step i32) (local $run i32) (local $runEnd i32) (local $j i32)
    (local $d i32) (local $top i32) (local $bottom i32) (local $above i32) (local $h i32)
    (local $at i32) (local $dHi i32) (local $sub i32)
    (local $v0 v128) (local $v1 v128) (local $s0 v128) (local $s1 v128) (local $vTop v128) (local $vBottom v128)
    (local.set $step (i32.shl (i32.div_u (local.get $n) (i32.const 32)) (i32.const 2)))
    (local.set $runEnd (i32.add (local.get $row) (i32.shl (local.get $step) (i32.const 5))))
    (local.set $run (local.get $row))
    (local.set $vTop (v128.const i32x4 0 0 0 0))
    (local.set $vBottom (v128.const i32x4 2047 2047 2047 2047))
    ;; Eight keys a run, in SIMD: the key transform, the stores, the 11-bit buckets and their bounds;
    ;; only the histogram increments are scalar.
    (loop $runs
      (local.set $v0 (v128.load (local.get $run)))
      (local.set $v1 (v128.load offset=16 (local.get $run)))
      (local.set $s0 (i32x4.shr_s (local.get $v0) (i32.const 31)))
      (local.set $s1 (i32x4.shr_s (local.get $v1) (i32.const 31)))
      (local.set $v0
        (i32x4.sub
          (v128.xor (local.get $v0) (v128.and (local.get $s0) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
          (local.get $s0)))
      (local.set $v1
        (i32x4.sub
          (v128.xor (local.get $v1) (v128.and (local.get $s1) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
          (local.get $s1)))
      (v128.store (i32.add (local.get $keys) (i32.shl (local.get $j) (i32.const 2))) (local.get $v0))
      (v128.store offset=16 (i32.add (local.get $keys) (i32.shl (local.get $j) (i32.const 2))) (local.get $v1))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (local.set $s0 (i32x4.add (i32x4.shr_s (local.get $v0) (i32.const 21)) (v128.const i32x4 1024 1024 1024 1024)))
      (local.set $s1 (i32x4.add (i32x4.shr_s (local.get $v1) (i32.const 21)) (v128.const i32x4 1024 1024 1024 1024)))
      (local.set $vTop (i32x4.max_s (local.get $vTop) (i32x4.max_s (local.get $s0) (local.get $s1))))
      (local.set $vBottom (i32x4.min_s (local.get $vBottom) (i32x4.min_s (local.get $s0) (local.get $s1))))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 0 (local.get $s0)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 1 (local.get $s0)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 2 (local.get $s0)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 3 (local.get $s0)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 0 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 1 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 2 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 3 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (br_if $runs
        (i32.lt_u (local.tee $run (i32.add (local.get $run) (local.get $step))) (local.get $runEnd))))
    (local.set $top (call $maxLanes (local.get $vTop)))
    (local.set $bottom (call $minLanes (local.get $vBottom)))
    ;; the bucket holding the need-th largest sample key
    (local.set $d (local.get $top))
    (block $found
      (loop $scan
        (local.set $h (i32.load (i32.add (local.get $hist) (i32.shl (local.get $d) (i32.const 2)))))
        (br_if $found (i32.ge_s (i32.add (local.get $above) (local.get $h)) (local.get $need)))
        (local.set $above (i32.add (local.get $above) (local.get $h)))
        (local.set $d (i32.sub (local.get $d) (i32.const 1)))
        (br $scan)))
    (memory.fill
      (i32.add (local.get $hist) (i32.shl (local.get $bottom) (i32.const 2)))
      (i32.const 0)
      (i32.shl (i32.add (i32.sub (local.get $top) (local.get $bottom)) (i32.const 1)) (i32.const 2)))
    ;; second level: the next 8 bits of the sample keys in that bucket
    (local.set $dHi (i32.sub (local.get $d) (i32.const 1024)))
    (local.set $j (i32.const 0))
    ;; (four keys a step, branch-free: every key adds its match, 0 or 1, to its digit's count, so no
    ;; branch per key is mispredicted; the largest matching digit starts the scan below)
    (local.set $vTop (v128.const i32x4 0 0 0 0))
    (local.set $v1 (i32x4.splat (local.get $dHi)))
    (loop $second
      (local.set $v0 (v128.load (i32.add (local.get $keys) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $s0 (i32x4.eq (i32x4.shr_s (local.get $v0) (i32.const 21)) (local.get $v1)))
      (local.set $s1
        (v128.and (i32x4.shr_s (local.get $v0) (i32.const 13)) (v128.const i32x4 255 255 255 255)))
      (local.set $vTop (i32x4.max_s (local.get $vTop) (v128.and (local.get $s1) (local.get $s0))))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 0 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at)
        (i32.sub (i32.load (local.get $at)) (i32x4.extract_lane 0 (local.get $s0))))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 1 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at)
        (i32.sub (i32.load (local.get $at)) (i32x4.extract_lane 1 (local.get $s0))))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 2 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at)
        (i32.sub (i32.load (local.get $at)) (i32x4.extract_lane 2 (local.get $s0))))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32x4.extract_lane 3 (local.get $s1)) (i32.const 2))))
      (i32.store (local.get $at)
        (i32.sub (i32.load (local.get $at)) (i32x4.extract_lane 3 (local.get $s0))))
      (br_if $second (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (i32.const 256))))
    (local.set $top (call $maxLanes (local.get $vTop)))
    (local.set $sub (local.get $top))
    (block $found2
      (loop $scan2
        (local.set $above
          (i32.add (local.get $above)
            (i32.load (i32.add (local.get $hist) (i32.shl (local.get $sub) (i32.const 2))))))
        (br_if $found2 (i32.ge_s (local.get $above) (local.get $need)))
        (local.set $sub (i32.sub (local.get $sub) (i32.const 1)))
        (br $scan2)))
    (memory.fill (local.get $hist) (i32.const 0) (i32.const 1024))
    ;; ties can put far more than `need` sample elements at or above the pivot
    (if (i32.gt_s (local.get $above) (i32.const 64)) (then (return (i32.const 0x100000))))
    (local.set $d (i32.or (i32.shl (local.get $dHi) (i32.const 8)) (local.get $sub)))
    (select (i32.const -1) (local.get $d) (i32.eqz (local.get $d))))

  ;; histRow(row, n, hist) -> the highest bucket used, or -1 if an element is a NaN (`hist` is then
  ;; left as it is).
  ;;
  ;; The whole-row path for rows where most elements would be candidates (large k, heavy ties): the
  ;; histogram of the top 11 bits of the order keys of the `n >= 1` staged float bits at `row`,
  ;; bucket `(key >> 21) + 1024`, interleaved four ways (entry `4 * bucket + (i & 3)`, so runs of
  ;; equal keys do not serialise on one counter), added to `hist` (2048 x 4 i32), as `histogramRow`
  ;; in select-rows.ts.
  (func $histRow (export "histRow") (param $row i32) (param $n i32) (param $hist i32) (result i32)
    (local $i i32) (local $b i32) (local $d i32) (local $top i32) (local $probe i32) (local $at i32)
    (loop $step
      (local.set $b (i32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $probe
        (i32.or (local.get $probe)
          (i32.add (i32.and (local.get $b) (i32.const 0x7fffffff)) (i32.const 0x7fffff))))
      (local.set $d
        (i32.add
          (i32.shr_s
            (i32.sub
              (i32.xor (local.get $b) (i32.and (i32.shr_s (local.get $b) (i32.const 31)) (i32.const 0x7fffffff)))
              (i32.shr_s (local.get $b) (i32.const 31)))
            (i32.const 21))
          (i32.const 1024)))
      (local.set $at
        (i32.add (local.get $hist)
          (i32.shl
            (i32.or (i32.shl (local.get $d) (i32.const 2)) (i32.and (local.get $i) (i32.const 3)))
            (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $top (select (local.get $d) (local.get $top) (i32.gt_s (local.get $d) (local.get $top))))
      (br_if $step (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (select (i32.const -1) (local.get $top) (i32.lt_s (local.get $probe) (i32.const 0))))

  ;; markRow(row, n4, dHi, mask, wk, wi) -> (m, above), or (-1, -1) if an element is a NaN
  ;;
  ;; The whole-row path's mark pass, SIMD, four elements a step: for the `n4` staged float bits at
  ;; `row` (`n4` a multiple of 4), writes `mask[i] = 1` where the key's top 11 bits (`key >> 21`,
  ;; signed) exceed `dHi` (the threshold's bucket), else 0, and appends the order keys and columns
  ;; `i` of the elements in bucket `dHi` to `wk` / `wi`, in index order (shuffled through the table
  ;; at byte 0, as `gather` does). Returns how many it appended, and how many are above the bucket:
  ;; the caller checks with them that the bucket holds the k-th largest. `markRow` in select-rows.ts.
  (func $markRow (export "markRow")
    (param $row i32) (param $n4 i32) (param $dHi i32) (param $mask i32) (param $wk i32) (param $wi i32)
    (result i32 i32)
    (local $end i32) (local $m i32) (local $bits i32)
    (local $indices v128) (local $limits v128) (local $v v128) (local $sign v128) (local $key v128)
    (local $top v128) (local $shuffle v128) (local $above v128) (local $probe v128)
    (local.set $end (i32.add (local.get $row) (i32.shl (local.get $n4) (i32.const 2))))
    (local.set $limits (i32x4.splat (local.get $dHi)))
    (local.set $indices (v128.const i32x4 0 1 2 3))
    (loop $step
      (local.set $v (v128.load (local.get $row)))
      (local.set $probe
        (v128.or (local.get $probe)
          (i32x4.add
            (v128.and (local.get $v) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
            (v128.const i32x4 0x7fffff 0x7fffff 0x7fffff 0x7fffff))))
      (local.set $sign (i32x4.shr_s (local.get $v) (i32.const 31)))
      (local.set $key
        (i32x4.sub
          (v128.xor (local.get $v)
            (v128.and (local.get $sign) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
          (local.get $sign)))
      (local.set $top (i32x4.shr_s (local.get $key) (i32.const 21)))
      ;; four mask bytes: (top > dHi) narrowed to bytes, lanes 0-3
      (local.set $v (i32x4.gt_s (local.get $top) (local.get $limits)))
      (local.set $above (i32x4.sub (local.get $above) (local.get $v)))
      (local.set $v (i16x8.narrow_i32x4_s (local.get $v) (local.get $v)))
      (i32.store align=1 (local.get $mask)
        (i32.and
          (i32x4.extract_lane 0 (i8x16.narrow_i16x8_s (local.get $v) (local.get $v)))
          (i32.const 0x01010101)))
      ;; the threshold bucket's entries, in index order
      (local.set $bits (i32x4.bitmask (i32x4.eq (local.get $top) (local.get $limits))))
      (local.set $shuffle (v128.load (i32.shl (local.get $bits) (i32.const 4))))
      (v128.store align=4
        (i32.add (local.get $wk) (i32.shl (local.get $m) (i32.const 2)))
        (i8x16.swizzle (local.get $key) (local.get $shuffle)))
      (v128.store align=4
        (i32.add (local.get $wi) (i32.shl (local.get $m) (i32.const 2)))
        (i8x16.swizzle (local.get $indices) (local.get $shuffle)))
      (local.set $m (i32.add (local.get $m) (i32.popcnt (local.get $bits))))
      (local.set $indices (i32x4.add (local.get $indices) (v128.const i32x4 4 4 4 4)))
      (local.set $mask (i32.add (local.get $mask) (i32.const 4)))
      (br_if $step
        (i32.lt_u (local.tee $row (i32.add (local.get $row) (i32.const 16))) (local.get $end))))
    (if (i32x4.bitmask (local.get $probe)) (then (return (i32.const -1) (i32.const -1))))
    (local.get $m)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $above)) (i32x4.extract_lane 1 (local.get $above)))
      (i32.add (i32x4.extract_lane 2 (local.get $above)) (i32x4.extract_lane 3 (local.get $above)))))

  ;; rank(row, n, hist, a, b, out, nanLargest) -> -1, or the column of the first NaN when
  ;; `nanLargest` is 0.
  ;;
  ;; The seed's `idx_rank` of one staged row of `n >= 1` float bits at `row`: writes at `out` (n i32)
  ;; the position of each element in the stable descending order (larger first, equal by index), the
  ;; same ranks as `rankRow` in rank-rows.ts. An LSD radix sort of (key, column) pairs packed in one
  ;; i64 (`(~key ^ 0x80000000) << 32 | column`: descending as unsigned ascending; NaN gets the key
  ;; 0x7fffffff under `nanLargest`), 8-bit digits in four stable passes between `a` and `b` (n i64
  ;; each). 8 bits, not 11: a pass then writes 256 streams, which stay in L1, where 2048 streams of a
  ;; row this short miss on nearly every store. A digit every element shares skips its pass; the last
  ;; pass that runs scatters each element's position straight to `out` (the inverse permutation).
  ;; `hist` is 4 x 256 i32 of scratch, zeroed here.
  (func $rank (export "rank")
    (param $row i32) (param $n i32) (param $hist i32) (param $a i32) (param $b i32) (param $out i32)
    (param $nanLargest i32) (result i32)
    (local $i i32) (local $bits i32) (local $u i32) (local $at i32) (local $pass i32) (local $last i32)
    (local $h i32) (local $d i32) (local $sum i32) (local $t i32) (local $src i32) (local $dst i32)
    (local $v i64) (local $shift i64)
    (memory.fill (local.get $hist) (i32.const 0) (i32.const 4096))
    ;; packed pairs, and the four digit histograms at once
    (loop $keys
      (local.set $bits (i32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))
      (if (i32.gt_u (i32.and (local.get $bits) (i32.const 0x7fffffff)) (i32.const 0x7f800000))
        (then
          (if (i32.eqz (local.get $nanLargest)) (then (return (local.get $i))))
          (local.set $u (i32.const 0))) ;; NaN's key 0x7fffffff, ^ 0x7fffffff
        (else
          (local.set $u
            (i32.xor
              (i32.sub
                (i32.xor (local.get $bits)
                  (i32.and (i32.shr_s (local.get $bits) (i32.const 31)) (i32.const 0x7fffffff)))
                (i32.shr_s (local.get $bits) (i32.const 31)))
              (i32.const 0x7fffffff))))) ;; ~x ^ 0x80000000 = x ^ 0x7fffffff
      (i64.store (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 3)))
        (i64.or (i64.shl (i64.extend_i32_u (local.get $u)) (i64.const 32)) (i64.extend_i32_u (local.get $i))))
      (local.set $at (i32.add (local.get $hist) (i32.shl (i32.and (local.get $u) (i32.const 255)) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist)
          (i32.shl (i32.and (i32.shr_u (local.get $u) (i32.const 8)) (i32.const 255)) (i32.const 2))))
      (i32.store offset=1024 (local.get $at) (i32.add (i32.load offset=1024 (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist)
          (i32.shl (i32.and (i32.shr_u (local.get $u) (i32.const 16)) (i32.const 255)) (i32.const 2))))
      (i32.store offset=2048 (local.get $at) (i32.add (i32.load offset=2048 (local.get $at)) (i32.const 1)))
      (local.set $at
        (i32.add (local.get $hist) (i32.shl (i32.shr_u (local.get $u) (i32.const 24)) (i32.const 2))))
      (i32.store offset=3072 (local.get $at) (i32.add (i32.load offset=3072 (local.get $at)) (i32.const 1)))
      (br_if $keys (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    ;; last = the last pass whose digit the elements do not all share (-1: all keys equal); whether
    ;; all share a digit does not depend on the order, so element 0 of the input tells
    (local.set $last (i32.const -1))
    (local.set $u (i32.wrap_i64 (i64.shr_u (i64.load (local.get $a)) (i64.const 32))))
    (loop $find
      (if (i32.ne (local.get $n)
            (i32.load
              (i32.add (local.get $hist)
                (i32.shl
                  (i32.add (i32.shl (local.get $pass) (i32.const 8))
                    (i32.and
                      (i32.shr_u (local.get $u) (i32.shl (local.get $pass) (i32.const 3)))
                      (i32.const 255)))
                  (i32.const 2)))))
        (then (local.set $last (local.get $pass))))
      (br_if $find (i32.lt_u (local.tee $pass (i32.add (local.get $pass) (i32.const 1))) (i32.const 4))))
    (local.set $i (i32.const 0))
    (if (i32.lt_s (local.get $last) (i32.const 0))
      (then
        ;; all keys equal: the order is the index order
        (loop $identity
          (i32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
          (br_if $identity (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (return (i32.const -1))))
    (local.set $src (local.get $a))
    (local.set $dst (local.get $b))
    (local.set $pass (i32.const 0))
    (loop $passes
      (local.set $shift (i64.extend_i32_u (i32.add (i32.const 32) (i32.shl (local.get $pass) (i32.const 3)))))
      (local.set $h (i32.add (local.get $hist) (i32.shl (local.get $pass) (i32.const 10))))
      (if (i32.ne (local.get $n)
            (i32.load
              (i32.add (local.get $h)
                (i32.shl
                  (i32.and
                    (i32.wrap_i64 (i64.shr_u (i64.load (local.get $src)) (local.get $shift)))
                    (i32.const 255))
                  (i32.const 2)))))
        (then
          ;; exclusive prefix sums: each digit's first position
          (local.set $sum (i32.const 0))
          (local.set $d (i32.const 0))
          (loop $prefix
            (local.set $at (i32.add (local.get $h) (i32.shl (local.get $d) (i32.const 2))))
            (local.set $t (i32.load (local.get $at)))
            (i32.store (local.get $at) (local.get $sum))
            (local.set $sum (i32.add (local.get $sum) (local.get $t)))
            (br_if $prefix (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 1))) (i32.const 256))))
          (local.set $i (i32.const 0))
          (if (i32.eq (local.get $pass) (local.get $last))
            (then
              ;; the last pass: out[column] = its position
              (loop $final
                (local.set $v (i64.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 3)))))
                (local.set $at
                  (i32.add (local.get $h)
                    (i32.shl
                      (i32.and (i32.wrap_i64 (i64.shr_u (local.get $v) (local.get $shift))) (i32.const 255))
                      (i32.const 2))))
                (local.set $t (i32.load (local.get $at)))
                (i32.store (local.get $at) (i32.add (local.get $t) (i32.const 1)))
                (i32.store
                  (i32.add (local.get $out) (i32.shl (i32.wrap_i64 (local.get $v)) (i32.const 2)))
                  (local.get $t))
                (br_if $final (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
              (return (i32.const -1))))
          (loop $scatter
            (local.set $v (i64.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 3)))))
            (local.set $at
              (i32.add (local.get $h)
                (i32.shl
                  (i32.and (i32.wrap_i64 (i64.shr_u (local.get $v) (local.get $shift))) (i32.const 255))
                  (i32.const 2))))
            (local.set $t (i32.load (local.get $at)))
            (i32.store (local.get $at) (i32.add (local.get $t) (i32.const 1)))
            (i64.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 3))) (local.get $v))
            (br_if $scatter (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
          (local.set $t (local.get $src))
          (local.set $src (local.get $dst))
          (local.set $dst (local.get $t))))
      (local.set $pass (i32.add (local.get $pass) (i32.const 1)))
      (br $passes))
    (unreachable))
)
