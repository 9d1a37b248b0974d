;; Pixel kernels of focal-yolo's data pipeline (see pixels.ts): the reference's HSV jitter on 8-bit RGB
;; and the conversion of 8-bit canvases to float32 in 0..1. The module owns its memory; pixels.ts fills
;; the tables once, the jitter's lookup tables per call, and copies pixels in and out.
;;
;; Memory layout (byte offsets):
;;   0      SDIV  i32[256]  round((255 << 12) / v), OpenCV's fixed-point reciprocal for S
;;   1024   HDIV  i32[256]  round((180 << 12) / (6·diff)), the same for H
;;   2048   lutH  u8[256]   per call: trunc((x·r_h) mod 180)
;;   2304   lutS  u8[256]   per call: trunc(clip(x·r_s, 0, 255))
;;   2560   lutV  u8[256]   per call: trunc(clip(x·r_v, 0, 255))
;;   4096   FACTOR f32[180·256][4]  HSV→RGB channel factors (r, g, b, unused) at index (H << 8) | S
;;   DATA (1 MiB) and up: pixels, placed by pixels.ts
(module
  (memory (export "memory") 17)

  ;; In place on n RGB pixels at p: OpenCV's 8-bit RGB→HSV, the three lookup tables, then each channel
  ;; is trunc(V'·factor + 0.5) computed in double precision (exact: an 8-bit integer times a float32).
  (func (export "hsv") (param $p i32) (param $n i32)
    (local $end i32) (local $r i32) (local $g i32) (local $b i32)
    (local $v i32) (local $diff i32) (local $s i32) (local $h i32)
    (local $f i32) (local $vv f64)
    (local.set $end (i32.add (local.get $p) (i32.mul (local.get $n) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $pixel
        (local.set $r (i32.load8_u offset=0 (local.get $p)))
        (local.set $g (i32.load8_u offset=1 (local.get $p)))
        (local.set $b (i32.load8_u offset=2 (local.get $p)))
        ;; v = max(r, g, b), diff = v − min(r, g, b)
        (local.set $v (select (local.get $r) (local.get $g) (i32.gt_u (local.get $r) (local.get $g))))
        (local.set $v (select (local.get $v) (local.get $b) (i32.gt_u (local.get $v) (local.get $b))))
        (local.set $diff (select (local.get $r) (local.get $g) (i32.lt_u (local.get $r) (local.get $g))))
        (local.set $diff (i32.sub (local.get $v)
          (select (local.get $diff) (local.get $b) (i32.lt_u (local.get $diff) (local.get $b)))))
        ;; s = (diff·SDIV[v] + 2048) >> 12
        (local.set $s (i32.shr_s
          (i32.add (i32.mul (local.get $diff) (i32.load offset=0 (i32.shl (local.get $v) (i32.const 2)))) (i32.const 2048))
          (i32.const 12)))
        ;; h by the sector of the maximum (r first, then g, as OpenCV tests them); branch-free, as the
        ;; sector of textured pixels is unpredictable
        (local.set $h
          (select
            (i32.sub (local.get $g) (local.get $b))
            (select
              (i32.add (i32.sub (local.get $b) (local.get $r)) (i32.shl (local.get $diff) (i32.const 1)))
              (i32.add (i32.sub (local.get $r) (local.get $g)) (i32.shl (local.get $diff) (i32.const 2)))
              (i32.eq (local.get $v) (local.get $g)))
            (i32.eq (local.get $v) (local.get $r))))
        (local.set $h (i32.shr_s
          (i32.add (i32.mul (local.get $h) (i32.load offset=1024 (i32.shl (local.get $diff) (i32.const 2)))) (i32.const 2048))
          (i32.const 12)))
        (local.set $h (i32.add (local.get $h) (i32.and (i32.shr_s (local.get $h) (i32.const 31)) (i32.const 180))))
        ;; factor entry of (lutH[h], lutS[s]), 16 bytes each; V' = lutV[v]
        (local.set $f (i32.add (i32.const 4096) (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (local.get $h)) (i32.const 8)) (i32.load8_u offset=2304 (local.get $s)))
          (i32.const 4))))
        (local.set $vv (f64.convert_i32_u (i32.load8_u offset=2560 (local.get $v))))
        (i32.store8 offset=0 (local.get $p)
          (i32.trunc_f64_s (f64.add (f64.mul (local.get $vv) (f64.promote_f32 (f32.load offset=0 (local.get $f)))) (f64.const 0.5))))
        (i32.store8 offset=1 (local.get $p)
          (i32.trunc_f64_s (f64.add (f64.mul (local.get $vv) (f64.promote_f32 (f32.load offset=4 (local.get $f)))) (f64.const 0.5))))
        (i32.store8 offset=2 (local.get $p)
          (i32.trunc_f64_s (f64.add (f64.mul (local.get $vv) (f64.promote_f32 (f32.load offset=8 (local.get $f)))) (f64.const 0.5))))
        (local.set $p (i32.add (local.get $p) (i32.const 3)))
        (br_if $pixel (i32.lt_u (local.get $p) (local.get $end))))))

  ;; n bytes at src → n float32 at dst, x / 255 (correctly rounded, as Math.fround(x / 255)).
  (func (export "toFloat") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $x v128) (local $w v128) (local $d v128)
    (local.set $d (f32x4.splat (f32.const 255)))
    (local.set $end (i32.add (local.get $src) (i32.and (local.get $n) (i32.const -16))))
    (block $vectors
      (br_if $vectors (i32.ge_u (local.get $src) (local.get $end)))
      (loop $block
        (local.set $x (v128.load (local.get $src)))
        (local.set $w (i16x8.extend_low_i8x16_u (local.get $x)))
        (v128.store offset=0 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $w))) (local.get $d)))
        (v128.store offset=16 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $w))) (local.get $d)))
        (local.set $w (i16x8.extend_high_i8x16_u (local.get $x)))
        (v128.store offset=32 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $w))) (local.get $d)))
        (v128.store offset=48 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $w))) (local.get $d)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (br_if $block (i32.lt_u (local.get $src) (local.get $end)))))
    ;; tail
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 15))))
    (block $tail
      (br_if $tail (i32.ge_u (local.get $src) (local.get $end)))
      (loop $one
        (f32.store (local.get $dst) (f32.div (f32.convert_i32_u (i32.load8_u (local.get $src))) (f32.const 255)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br_if $one (i32.lt_u (local.get $src) (local.get $end))))))

  ;; n bytes at a and at b → n float32 at dst, (a + b) / 2 / 255 (the mixup average; correctly rounded).
  (func (export "mixFloat") (param $a i32) (param $b i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $lo v128) (local $hi v128) (local $x v128) (local $y v128) (local $d v128)
    (local.set $d (f32x4.splat (f32.const 510)))
    (local.set $end (i32.add (local.get $a) (i32.and (local.get $n) (i32.const -16))))
    (block $vectors
      (br_if $vectors (i32.ge_u (local.get $a) (local.get $end)))
      (loop $block
        (local.set $x (v128.load (local.get $a)))
        (local.set $y (v128.load (local.get $b)))
        (local.set $lo (i16x8.add (i16x8.extend_low_i8x16_u (local.get $x)) (i16x8.extend_low_i8x16_u (local.get $y))))
        (local.set $hi (i16x8.add (i16x8.extend_high_i8x16_u (local.get $x)) (i16x8.extend_high_i8x16_u (local.get $y))))
        (v128.store offset=0 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $d)))
        (v128.store offset=16 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $d)))
        (v128.store offset=32 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $d)))
        (v128.store offset=48 (local.get $dst) (f32x4.div (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $d)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (br_if $block (i32.lt_u (local.get $a) (local.get $end)))))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 15))))
    (block $tail
      (br_if $tail (i32.ge_u (local.get $a) (local.get $end)))
      (loop $one
        (f32.store (local.get $dst) (f32.div
          (f32.convert_i32_u (i32.add (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
          (f32.const 510)))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br_if $one (i32.lt_u (local.get $a) (local.get $end))))))
;; PIL's BICUBIC resize in fixed point (see resample.ts, which computes the coefficients): a horizontal pass
;; to 8 bits, then a vertical pass; every sum is (1 << 21) + Σ byte·weight, shifted right by 22 and
;; clipped to 0…255, as Pillow does.

  ;; Horizontal pass: `rows` rows of src (srcStride bytes apart) → rows of `width` RGB pixels at dst.
  ;; Output pixel x reads 4·groups source pixels from byte first[x] of its row: group g is one 16-byte
  ;; load at first[x] + 12·g whose pixels 0…3 are spread to i32 lanes (r, g, b, 0) by shuffles and
  ;; multiplied by weights stored pre-splatted (v128 each, 4·groups per output pixel, zero past the taps).
  ;; Reads may pass the last source pixel by up to 16 bytes and each pixel stores 4 bytes: the caller
  ;; leaves that much slack after src and dst.
  (func (export "resizeH")
    (param $src i32) (param $srcStride i32) (param $rows i32) (param $dst i32) (param $width i32)
    (param $first i32) (param $weights i32) (param $groups i32)
    (local $y i32) (local $x i32) (local $row i32) (local $p i32) (local $w i32) (local $g i32)
    (local $v v128) (local $acc v128) (local $zero v128) (local $half v128)
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $half (i32x4.splat (i32.const 2097152)))
    (local.set $y (i32.const 0))
    (block $rowsDone
      (br_if $rowsDone (i32.le_s (local.get $rows) (i32.const 0)))
      (loop $eachRow
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $srcStride))))
        (local.set $w (local.get $weights))
        (local.set $x (i32.const 0))
        (loop $eachPixel
          (local.set $p (i32.add (local.get $row) (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2))))))
          (local.set $acc (local.get $half))
          (local.set $g (local.get $groups))
          (loop $eachGroup
            (local.set $v (v128.load (local.get $p)))
            (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (v128.load offset=0 (local.get $w))
              (i8x16.shuffle 0 16 16 16 1 16 16 16 2 16 16 16 16 16 16 16 (local.get $v) (local.get $zero)))))
            (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (v128.load offset=16 (local.get $w))
              (i8x16.shuffle 3 16 16 16 4 16 16 16 5 16 16 16 16 16 16 16 (local.get $v) (local.get $zero)))))
            (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (v128.load offset=32 (local.get $w))
              (i8x16.shuffle 6 16 16 16 7 16 16 16 8 16 16 16 16 16 16 16 (local.get $v) (local.get $zero)))))
            (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (v128.load offset=48 (local.get $w))
              (i8x16.shuffle 9 16 16 16 10 16 16 16 11 16 16 16 16 16 16 16 (local.get $v) (local.get $zero)))))
            (local.set $p (i32.add (local.get $p) (i32.const 12)))
            (local.set $w (i32.add (local.get $w) (i32.const 64)))
            (local.set $g (i32.sub (local.get $g) (i32.const 1)))
            (br_if $eachGroup (local.get $g)))
          (local.set $acc (i32x4.shr_s (local.get $acc) (i32.const 22)))
          (local.set $acc (i16x8.narrow_i32x4_s (local.get $acc) (local.get $acc)))
          (local.set $acc (i8x16.narrow_i16x8_u (local.get $acc) (local.get $acc)))
          (i32.store (local.get $dst) (i32x4.extract_lane 0 (local.get $acc)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 3)))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br_if $eachPixel (i32.lt_u (local.get $x) (local.get $width))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $eachRow (i32.lt_u (local.get $y) (local.get $rows))))))

  ;; Vertical pass: `height` output rows of n bytes at dst; output row y sums k rows of mid starting at
  ;; byte first[y], stride bytes apart, with weights[y·k + t] (i32). 16 bytes at a time: reads and
  ;; writes may pass a row's end by up to 15 bytes (rows are written in order, so a spill into the next
  ;; row is overwritten; the caller leaves 16 bytes of slack after mid and dst).
  (func (export "resizeV")
    (param $mid i32) (param $stride i32) (param $dst i32) (param $height i32) (param $n i32)
    (param $first i32) (param $weights i32) (param $k i32)
    (local $y i32) (local $i i32) (local $t i32) (local $p i32) (local $wp i32) (local $out i32)
    (local $v v128) (local $w v128) (local $lo v128) (local $hi v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $half v128)
    (local.set $half (i32x4.splat (i32.const 2097152)))
    (local.set $y (i32.const 0))
    (block $done
      (br_if $done (i32.le_s (local.get $height) (i32.const 0)))
      (loop $eachRow
        (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $n))))
        (local.set $i (i32.const 0))
        (loop $eachBlock
          (local.set $a0 (local.get $half))
          (local.set $a1 (local.get $half))
          (local.set $a2 (local.get $half))
          (local.set $a3 (local.get $half))
          (local.set $p (i32.add (i32.add (local.get $mid) (i32.load (i32.add (local.get $first) (i32.shl (local.get $y) (i32.const 2))))) (local.get $i)))
          (local.set $wp (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $y) (local.get $k)) (i32.const 2))))
          (local.set $t (local.get $k))
          (loop $eachTap
            (local.set $v (v128.load (local.get $p)))
            (local.set $w (i32x4.splat (i32.load (local.get $wp))))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $w))))
            (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $w))))
            (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $w))))
            (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $w))))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
            (local.set $t (i32.sub (local.get $t) (i32.const 1)))
            (br_if $eachTap (local.get $t)))
          (v128.store (i32.add (local.get $out) (local.get $i))
            (i8x16.narrow_i16x8_u
              (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
              (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $eachBlock (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $eachRow (i32.lt_u (local.get $y) (local.get $height))))))
)
