;; The inner kernel of focal-yolo's wasm Conv2DBackpropFilter (see wasm-conv-backprop-filter.ts).
;;
;; It runs on the tfjs wasm backend's own memory (imported; the generator makes a shared-memory variant
;; for the threaded build from the line marked MEMORY) and adds, over a block of output pixels,
;;
;;   acc[t, c] += x[pixel + tapOffset[t]] · dy[pixel, c]
;;
;; for every tap t (one (ky, kx, ci) of the filter) and output channel c. x is a zero-padded NHWC copy of
;; the input, so that every tap of every pixel is in bounds; acc is [tapBlocks·4, coBlocks·8] floats.
;; Register blocking: 4 taps × 8 channels = 8 f32x4 accumulators; each pixel loads two dy vectors and
;; splats the 4 tap values. All addresses are byte offsets into the memory (unsigned: they may pass 2 GiB).
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; rows × count output pixels: pixel (r, i) reads x at x + r·xRowStep + i·xStep (+ tap offsets) and
  ;; dy at dy + r·dyRowStep + i·dyStep. taps: tapBlocks·4 i32 byte offsets. count ≥ 1, rows ≥ 1.
  (func (export "accumulate")
    (param $x i32) (param $xStep i32) (param $xRowStep i32)
    (param $dy i32) (param $dyStep i32) (param $dyRowStep i32)
    (param $count i32) (param $rows i32)
    (param $taps i32) (param $tapBlocks i32) (param $acc i32) (param $coBlocks i32)
    (local $accRow i32) (local $tb i32) (local $cb i32) (local $at i32) (local $tapAt i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $px i32) (local $pd i32) (local $i i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    ;; Bytes of one accumulator row (8 channels per block).
    (local.set $accRow (i32.shl (local.get $coBlocks) (i32.const 5)))
    (loop $row
      (local.set $tb (i32.const 0))
      (loop $tapBlock
        (local.set $tapAt (i32.add (local.get $taps) (i32.shl (local.get $tb) (i32.const 4))))
        (local.set $o0 (i32.load offset=0 (local.get $tapAt)))
        (local.set $o1 (i32.load offset=4 (local.get $tapAt)))
        (local.set $o2 (i32.load offset=8 (local.get $tapAt)))
        (local.set $o3 (i32.load offset=12 (local.get $tapAt)))
        (local.set $cb (i32.const 0))
        (loop $coBlock
          ;; Accumulators of taps 4·tb … 4·tb+3, channels 8·cb … 8·cb+7.
          (local.set $at (i32.add (local.get $acc)
            (i32.add (i32.mul (i32.shl (local.get $tb) (i32.const 2)) (local.get $accRow))
                     (i32.shl (local.get $cb) (i32.const 5)))))
          (local.set $a0 (v128.load offset=0 (local.get $at)))
          (local.set $a1 (v128.load offset=16 (local.get $at)))
          (local.set $at (i32.add (local.get $at) (local.get $accRow)))
          (local.set $a2 (v128.load offset=0 (local.get $at)))
          (local.set $a3 (v128.load offset=16 (local.get $at)))
          (local.set $at (i32.add (local.get $at) (local.get $accRow)))
          (local.set $a4 (v128.load offset=0 (local.get $at)))
          (local.set $a5 (v128.load offset=16 (local.get $at)))
          (local.set $at (i32.add (local.get $at) (local.get $accRow)))
          (local.set $a6 (v128.load offset=0 (local.get $at)))
          (local.set $a7 (v128.load offset=16 (local.get $at)))
          (local.set $px (local.get $x))
          (local.set $pd (i32.add (local.get $dy) (i32.shl (local.get $cb) (i32.const 5))))
          (local.set $i (local.get $count))
          (loop $pixel
            (local.set $d0 (v128.load offset=0 (local.get $pd)))
            (local.set $d1 (v128.load offset=16 (local.get $pd)))
            (local.set $s (v128.load32_splat (i32.add (local.get $px) (local.get $o0))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $d0))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $d1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $px) (local.get $o1))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $d0))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $d1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $px) (local.get $o2))))
            (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (local.get $d0))))
            (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (local.get $d1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $px) (local.get $o3))))
            (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (local.get $d0))))
            (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (local.get $d1))))
            (local.set $px (i32.add (local.get $px) (local.get $xStep)))
            (local.set $pd (i32.add (local.get $pd) (local.get $dyStep)))
            (br_if $pixel (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
          (local.set $at (i32.add (local.get $acc)
            (i32.add (i32.mul (i32.shl (local.get $tb) (i32.const 2)) (local.get $accRow))
                     (i32.shl (local.get $cb) (i32.const 5)))))
          (v128.store offset=0 (local.get $at) (local.get $a0))
          (v128.store offset=16 (local.get $at) (local.get $a1))
          (local.set $at (i32.add (local.get $at) (local.get $accRow)))
          (v128.store offset=0 (local.get $at) (local.get $a2))
          (v128.store offset=16 (local.get $at) (local.get $a3))
          (local.set $at (i32.add (local.get $at) (local.get $accRow)))
          (v128.store offset=0 (local.get $at) (local.get $a4))
          (v128.store offset=16 (local.get $at) (local.get $a5))
          (local.set $at (i32.add (local.get $at) (local.get $accRow)))
          (v128.store offset=0 (local.get $at) (local.get $a6))
          (v128.store offset=16 (local.get $at) (local.get $a7))
          (br_if $coBlock (i32.lt_u (local.tee $cb (i32.add (local.get $cb) (i32.const 1))) (local.get $coBlocks))))
        (br_if $tapBlock (i32.lt_u (local.tee $tb (i32.add (local.get $tb) (i32.const 1))) (local.get $tapBlocks))))
      (local.set $x (i32.add (local.get $x) (local.get $xRowStep)))
      (local.set $dy (i32.add (local.get $dy) (local.get $dyRowStep)))
      (br_if $row (local.tee $rows (i32.sub (local.get $rows) (i32.const 1))))))
;; col2im's inner loop for Conv2DBackpropInput with few channels (wasm-conv-backprop-input.ts): count
;; times, dst[0 … run) += src[0 … run) (floats), then src += srcStep and dst += dstStep (bytes). Runs are
;; added in order, so windows that overlap in dst (stride < kernel) accumulate as in the scalar loop.
  (func (export "addRuns")
    (param $src i32) (param $dst i32) (param $count i32) (param $run i32) (param $srcStep i32) (param $dstStep i32)
    (local $k i32) (local $vecEnd i32) (local $s i32) (local $d i32)
    (if (i32.eqz (local.get $count)) (then (return)))
    ;; Bytes of the run covered by whole f32x4 vectors.
    (local.set $vecEnd (i32.shl (i32.and (local.get $run) (i32.const -4)) (i32.const 2)))
    (local.set $run (i32.shl (local.get $run) (i32.const 2)))
    (loop $window
      (local.set $k (i32.const 0))
      (block $vecDone
        (br_if $vecDone (i32.eqz (local.get $vecEnd)))
        (loop $vec
          (local.set $s (i32.add (local.get $src) (local.get $k)))
          (local.set $d (i32.add (local.get $dst) (local.get $k)))
          (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (v128.load (local.get $s))))
          (br_if $vec (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $vecEnd)))))
      (block $tailDone
        (br_if $tailDone (i32.ge_u (local.get $k) (local.get $run)))
        (loop $tail
          (local.set $s (i32.add (local.get $src) (local.get $k)))
          (local.set $d (i32.add (local.get $dst) (local.get $k)))
          (f32.store (local.get $d) (f32.add (f32.load (local.get $d)) (f32.load (local.get $s))))
          (br_if $tail (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 4))) (local.get $run)))))
      (local.set $src (i32.add (local.get $src) (local.get $srcStep)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStep)))
      (br_if $window (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))
)
