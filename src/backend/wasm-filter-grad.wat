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
;; col2im of Conv2DBackpropInput with few channels (wasm-conv-backprop-input.ts), one row of dx at a time.
;; dcols holds, per output pixel (oy, ox), its window [KH, KW, Ci]; window row ky of output row oy lands in
;; dx row oy·s − padTop + ky, window column kx of output ox in dx column ox·sx − padLeft + kx, so one
;; window row is one run of KW·Ci floats, contiguous in dcols and in NHWC dx. This function sets the dx
;; row at $dst ($rowBytes bytes) to zero when $zero ≠ 0, then adds $contribs window rows into it: the
;; first at $src (output row oy, ox = 0, window row ky), the next $contribStep bytes further (oy + 1,
;; ky − s), and so on. Each adds $count windows, $srcStep bytes apart in dcols; window ox lands at byte
;; $first + ox·$dstStep of the row, clipped to the row (the image's left and right edges: the kept taps
;; are again one contiguous run). $run: bytes of a window row (KW·Ci·4). Windows are added in order, so
;; windows that overlap (stride < kernel) accumulate as in a scalar loop. Byte addresses, unsigned.
  (func (export "col2imRow")
    (param $src i32) (param $contribs i32) (param $contribStep i32)
    (param $dst i32) (param $rowBytes i32) (param $zero i32)
    (param $count i32) (param $srcStep i32) (param $dstStep i32) (param $run i32) (param $first i32)
    (local $k i32) (local $ox i32) (local $s i32) (local $d i32) (local $off i32) (local $lo i32) (local $hi i32)
    (local $vecEnd i32) (local $zeros v128) (local $pass i32) (local $passes i32) (local $left i32)
    (local $passSrcStep i32) (local $passDstStep i32) (local $is36 i32)
    (local.set $is36 (i32.eq (local.get $run) (i32.const 36)))
    ;; Windows ox and ox + passes do not overlap (passes·dstStep ≥ run): adding the windows of each
    ;; residue of ox in its own pass never loads what the previous window just stored (a partly
    ;; overlapping vector load after a store stalls store-to-load forwarding).
    (local.set $passes (i32.div_u (i32.sub (i32.add (local.get $run) (local.get $dstStep)) (i32.const 1)) (local.get $dstStep)))
    (local.set $passSrcStep (i32.mul (local.get $srcStep) (local.get $passes)))
    (local.set $passDstStep (i32.mul (local.get $dstStep) (local.get $passes)))
    (if (local.get $zero)
      (then
        (local.set $k (i32.const 0))
        (block $zDone
          (loop $z
            (br_if $zDone (i32.gt_s (i32.add (local.get $k) (i32.const 16)) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $dst) (local.get $k)) (local.get $zeros))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $z)))
        (block $zTailDone
          (loop $zTail
            (br_if $zTailDone (i32.ge_s (local.get $k) (local.get $rowBytes)))
            (f32.store (i32.add (local.get $dst) (local.get $k)) (f32.const 0))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $zTail)))))
    (block $allDone
      (loop $contrib
        (br_if $allDone (i32.le_s (local.get $contribs) (i32.const 0)))
        (local.set $pass (i32.const 0))
        (loop $passLoop
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $pass) (local.get $srcStep))))
        (local.set $off (i32.add (local.get $first) (i32.mul (local.get $pass) (local.get $dstStep))))
        (local.set $ox (local.get $pass))
        (block $windowsDone
          (loop $window
            (br_if $windowsDone (i32.ge_s (local.get $ox) (local.get $count)))
            ;; A window inside the row with 9 floats per window row (3×3 kernel, 3 channels: the RGB
            ;; stem) takes a straight path: two vectors and one float.
            (if (i32.and (local.get $is36)
                  (i32.and (i32.ge_s (local.get $off) (i32.const 0)) (i32.le_s (i32.add (local.get $off) (i32.const 36)) (local.get $rowBytes))))
              (then
                (local.set $d (i32.add (local.get $dst) (local.get $off)))
                (v128.store offset=0 (local.get $d) (f32x4.add (v128.load offset=0 (local.get $d)) (v128.load offset=0 (local.get $s))))
                (v128.store offset=16 (local.get $d) (f32x4.add (v128.load offset=16 (local.get $d)) (v128.load offset=16 (local.get $s))))
                (f32.store offset=32 (local.get $d) (f32.add (f32.load offset=32 (local.get $d)) (f32.load offset=32 (local.get $s)))))
              (else
                ;; The window's bytes [lo, hi) that fall inside the row (signed: $off may be negative).
                (local.set $lo (select (i32.sub (i32.const 0) (local.get $off)) (i32.const 0) (i32.lt_s (local.get $off) (i32.const 0))))
                (local.set $hi (i32.sub (local.get $rowBytes) (local.get $off)))
                (local.set $hi (select (local.get $run) (local.get $hi) (i32.lt_s (local.get $run) (local.get $hi))))
                ;; $d + k addresses dx for window byte k (wraps back into range for k ≥ lo).
                (local.set $d (i32.add (local.get $dst) (local.get $off)))
                (local.set $k (local.get $lo))
                (local.set $vecEnd (i32.sub (local.get $hi) (i32.const 16)))
                (block $vecDone
                  (loop $vec
                    (br_if $vecDone (i32.gt_s (local.get $k) (local.get $vecEnd)))
                    (v128.store (i32.add (local.get $d) (local.get $k))
                      (f32x4.add (v128.load (i32.add (local.get $d) (local.get $k))) (v128.load (i32.add (local.get $s) (local.get $k)))))
                    (local.set $k (i32.add (local.get $k) (i32.const 16)))
                    (br $vec)))
                (block $tailDone
                  (loop $tail
                    (br_if $tailDone (i32.ge_s (local.get $k) (local.get $hi)))
                    (f32.store (i32.add (local.get $d) (local.get $k))
                      (f32.add (f32.load (i32.add (local.get $d) (local.get $k))) (f32.load (i32.add (local.get $s) (local.get $k)))))
                    (local.set $k (i32.add (local.get $k) (i32.const 4)))
                    (br $tail)))
              ))
            (local.set $s (i32.add (local.get $s) (local.get $passSrcStep)))
            (local.set $off (i32.add (local.get $off) (local.get $passDstStep)))
            (local.set $ox (i32.add (local.get $ox) (local.get $passes)))
            (br $window)))
        (br_if $passLoop (i32.lt_s (local.tee $pass (i32.add (local.get $pass) (i32.const 1))) (local.get $passes))))
        (local.set $src (i32.add (local.get $src) (local.get $contribStep)))
        (local.set $contribs (i32.sub (local.get $contribs) (i32.const 1)))
        (br $contrib))))
;; Fused GEMM and col2im of Conv2DBackpropInput with few channels (KW·Ci ≤ 12), one dx row per call, no
;; dcols matrix: each window row is computed where it is added. Window row ky of output pixel (oy, ox)
;; is Σ_co dy[oy, ox, co] · Wt[ky, co, 0 … 12) (Wt: the filter as [KH, Co, 12], KW·Ci values padded with
;; zeros to 12) and is added at byte $first + ox·$dstStep of the dx row, clipped to the row. As in
;; col2imRow: zero the row first when $zero ≠ 0; $contribs window rows, the first from the dy row at $dy
;; with the filter slice at $w, the next $dyContribStep / $wContribStep bytes further. Register blocks of
;; 3 output pixels × 3 vectors (4 pixels measured no faster: 16 vector registers are too few for them); $scratch: 48 bytes of this thread's own for windows clipped at the row's
;; edges. $run: bytes of a window row (KW·Ci·4 ≤ 48).
  (func $addWindow (param $dst i32) (param $off i32) (param $rowBytes i32) (param $run i32)
    (param $v0 v128) (param $v1 v128) (param $v2 v128) (param $scratch i32)
    (local $d i32) (local $k i32) (local $hi i32)
    (if (i32.and (i32.eq (local.get $run) (i32.const 36))
          (i32.and (i32.ge_s (local.get $off) (i32.const 0)) (i32.le_s (i32.add (local.get $off) (i32.const 36)) (local.get $rowBytes))))
      (then
        (local.set $d (i32.add (local.get $dst) (local.get $off)))
        (v128.store offset=0 (local.get $d) (f32x4.add (v128.load offset=0 (local.get $d)) (local.get $v0)))
        (v128.store offset=16 (local.get $d) (f32x4.add (v128.load offset=16 (local.get $d)) (local.get $v1)))
        (f32.store offset=32 (local.get $d) (f32.add (f32.load offset=32 (local.get $d)) (f32x4.extract_lane 0 (local.get $v2))))
        (return)))
    (v128.store offset=0 (local.get $scratch) (local.get $v0))
    (v128.store offset=16 (local.get $scratch) (local.get $v1))
    (v128.store offset=32 (local.get $scratch) (local.get $v2))
    (local.set $k (select (i32.sub (i32.const 0) (local.get $off)) (i32.const 0) (i32.lt_s (local.get $off) (i32.const 0))))
    (local.set $hi (i32.sub (local.get $rowBytes) (local.get $off)))
    (local.set $hi (select (local.get $run) (local.get $hi) (i32.lt_s (local.get $run) (local.get $hi))))
    (local.set $d (i32.add (local.get $dst) (local.get $off)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_s (local.get $k) (local.get $hi)))
        (f32.store (i32.add (local.get $d) (local.get $k))
          (f32.add (f32.load (i32.add (local.get $d) (local.get $k))) (f32.load (i32.add (local.get $scratch) (local.get $k)))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $tail))))

  (func (export "gemmCol2imRow")
    (param $dy i32) (param $w i32) (param $contribs i32) (param $dyContribStep i32) (param $wContribStep i32)
    (param $co i32) (param $dst i32) (param $rowBytes i32) (param $zero i32)
    (param $count i32) (param $dstStep i32) (param $first i32) (param $run i32) (param $scratch i32)
    (local $pixBytes i32) (local $last i32) (local $ox i32) (local $c i32) (local $pw i32) (local $k i32) (local $off i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128)
    (local $a6 v128) (local $a7 v128) (local $a8 v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $s v128) (local $zeros v128)
    (if (local.get $zero)
      (then
        (local.set $k (i32.const 0))
        (block $zDone
          (loop $z
            (br_if $zDone (i32.gt_s (i32.add (local.get $k) (i32.const 16)) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $dst) (local.get $k)) (local.get $zeros))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $z)))
        (block $zTailDone
          (loop $zTail
            (br_if $zTailDone (i32.ge_s (local.get $k) (local.get $rowBytes)))
            (f32.store (i32.add (local.get $dst) (local.get $k)) (f32.const 0))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $zTail)))))
    (local.set $pixBytes (i32.shl (local.get $co) (i32.const 2)))
    (block $allDone
      (loop $contrib
        (br_if $allDone (i32.le_s (local.get $contribs) (i32.const 0)))
        ;; The last pixel of the dy row: a block past the row's end reads it again (its extra windows are dropped).
        (local.set $last (i32.add (local.get $dy) (i32.mul (i32.sub (local.get $count) (i32.const 1)) (local.get $pixBytes))))
        (local.set $ox (i32.const 0))
        (block $blocksDone
          (loop $block
            (br_if $blocksDone (i32.ge_s (local.get $ox) (local.get $count)))
            (local.set $p0 (i32.add (local.get $dy) (i32.mul (local.get $ox) (local.get $pixBytes))))
            (local.set $p1 (i32.add (local.get $p0) (local.get $pixBytes)))
            (local.set $p1 (select (local.get $p1) (local.get $last) (i32.le_u (local.get $p1) (local.get $last))))
            (local.set $p2 (i32.add (local.get $p1) (local.get $pixBytes)))
            (local.set $p2 (select (local.get $p2) (local.get $last) (i32.le_u (local.get $p2) (local.get $last))))
            (local.set $a0 (local.get $zeros)) (local.set $a1 (local.get $zeros)) (local.set $a2 (local.get $zeros))
            (local.set $a3 (local.get $zeros)) (local.set $a4 (local.get $zeros)) (local.set $a5 (local.get $zeros))
            (local.set $a6 (local.get $zeros)) (local.set $a7 (local.get $zeros)) (local.set $a8 (local.get $zeros))
            (local.set $pw (local.get $w))
            (local.set $c (local.get $co))
            (loop $channel
              (local.set $w0 (v128.load offset=0 (local.get $pw)))
              (local.set $w1 (v128.load offset=16 (local.get $pw)))
              (local.set $w2 (v128.load offset=32 (local.get $pw)))
              (local.set $s (v128.load32_splat (local.get $p0)))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $w2))))
              (local.set $s (v128.load32_splat (local.get $p1)))
              (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (local.get $w2))))
              (local.set $s (v128.load32_splat (local.get $p2)))
              (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $a8 (f32x4.add (local.get $a8) (f32x4.mul (local.get $s) (local.get $w2))))
              (local.set $p0 (i32.add (local.get $p0) (i32.const 4)))
              (local.set $p1 (i32.add (local.get $p1) (i32.const 4)))
              (local.set $p2 (i32.add (local.get $p2) (i32.const 4)))
              (local.set $pw (i32.add (local.get $pw) (i32.const 48)))
              (br_if $channel (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $off (i32.add (local.get $first) (i32.mul (local.get $ox) (local.get $dstStep))))
            (call $addWindow (local.get $dst) (local.get $off) (local.get $rowBytes) (local.get $run) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $scratch))
            (if (i32.lt_s (i32.add (local.get $ox) (i32.const 1)) (local.get $count))
              (then (call $addWindow (local.get $dst) (i32.add (local.get $off) (local.get $dstStep)) (local.get $rowBytes) (local.get $run)
                (local.get $a3) (local.get $a4) (local.get $a5) (local.get $scratch))))
            (if (i32.lt_s (i32.add (local.get $ox) (i32.const 2)) (local.get $count))
              (then (call $addWindow (local.get $dst) (i32.add (local.get $off) (i32.shl (local.get $dstStep) (i32.const 1))) (local.get $rowBytes) (local.get $run)
                (local.get $a6) (local.get $a7) (local.get $a8) (local.get $scratch))))
            (local.set $ox (i32.add (local.get $ox) (i32.const 3)))
            (br $block)))
        (local.set $dy (i32.add (local.get $dy) (local.get $dyContribStep)))
        (local.set $w (i32.add (local.get $w) (local.get $wContribStep)))
        (local.set $contribs (i32.sub (local.get $contribs) (i32.const 1)))
        (br $contrib))))
)
