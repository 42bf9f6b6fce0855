;; The smallest module with a SIMD instruction: engines that validate it run the wasm kernel; the
;; others (no WebAssembly SIMD) run the JavaScript one. Any other failure of kernel.wat is a bug.
(module
  (func $probe (export "probe") (result v128) (v128.const i32x4 0 0 0 0)))
