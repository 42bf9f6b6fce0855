;; The memory floor: the least a mask pass over a float32 batch can cost on this machine. One SIMD
;; pass reads the batch and writes one byte per element (compare, narrow, store; 16 elements a
;; step), nothing else. Benchmarks time it back to back with the kernel on the same batch, so every
;; figure can be given as a ratio to it (floor.ts). The memory is shared, so that worker threads can
;; run it over halves of one batch for the multi-thread floor.
(module
  (import "e" "m" (memory 1 65536 shared))

  ;; floor(src, n, dst, threshold) -> n: for the `n` float32 at byte offset `src` (`n` a multiple of
  ;; 16), `dst[i] = src[i] > threshold ? 1 : 0`.
  (func $floor (export "floor")
    (param $src i32) (param $n i32) (param $dst i32) (param $threshold f32) (result i32)
    (local $end i32) (local $t v128)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $t (f32x4.splat (local.get $threshold)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (loop $step
      (v128.store (local.get $dst)
        (v128.and
          (i8x16.narrow_i16x8_s
            (i16x8.narrow_i32x4_s
              (f32x4.gt (v128.load offset=0 (local.get $src)) (local.get $t))
              (f32x4.gt (v128.load offset=16 (local.get $src)) (local.get $t)))
            (i16x8.narrow_i32x4_s
              (f32x4.gt (v128.load offset=32 (local.get $src)) (local.get $t))
              (f32x4.gt (v128.load offset=48 (local.get $src)) (local.get $t))))
          (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br_if $step
        (i32.lt_u
          (local.tee $src (i32.add (local.get $src) (i32.const 64)))
          (local.get $end))))
    (local.get $n))
)
