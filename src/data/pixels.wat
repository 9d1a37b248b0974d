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
)
