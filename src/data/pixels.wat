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
;;   4096   FACTOR u32[180·256][4]  HSV→RGB channel factors (r, g, b, unused) at index (H << 8) | S, as
;;          the float32 factor times 2^31 (an integer: every nonzero factor is at least 1/255)
;;   DATA (1 MiB) and up: pixels, placed by pixels.ts
(module
  (memory (export "memory") 17)

  ;; In place on n RGB pixels at p, one at a time: OpenCV's 8-bit RGB→HSV, the three lookup tables, then
  ;; each channel is trunc(V'·factor + 0.5), computed exactly as (V'·factor·2^31 + 2^30) >> 31 in 64-bit
  ;; integers. $hsv below does the same eight pixels at a time and calls this for the rest.
  (func $hsvScalar (param $p i32) (param $n i32)
    (local $end i32) (local $r i32) (local $g i32) (local $b i32)
    (local $v i32) (local $diff i32) (local $s i32) (local $h i32)
    (local $f i32) (local $vv i64)
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
        (local.set $vv (i64.extend_i32_u (i32.load8_u offset=2560 (local.get $v))))
        (i64.store8 offset=0 (local.get $p)
          (i64.shr_u (i64.add (i64.mul (local.get $vv) (i64.load32_u offset=0 (local.get $f))) (i64.const 1073741824)) (i64.const 31)))
        (i64.store8 offset=1 (local.get $p)
          (i64.shr_u (i64.add (i64.mul (local.get $vv) (i64.load32_u offset=4 (local.get $f))) (i64.const 1073741824)) (i64.const 31)))
        (i64.store8 offset=2 (local.get $p)
          (i64.shr_u (i64.add (i64.mul (local.get $vv) (i64.load32_u offset=8 (local.get $f))) (i64.const 1073741824)) (i64.const 31)))
        (local.set $p (i32.add (local.get $p) (i32.const 3)))
        (br_if $pixel (i32.lt_u (local.get $p) (local.get $end))))))

  ;; In place on n RGB pixels at p (see $hsvScalar), eight at a time: the RGB→HSV part in 16-bit lanes,
  ;; with OpenCV's reciprocal tables computed as round(1044480 / v) and round(122880 / diff) in float32
  ;; (exact for every 8-bit v and diff: no ties, and the float error is far below the distance to one;
  ;; a division by 0 saturates and is multiplied by 0); then per pixel the lookups and HSV→RGB, the three
  ;; channels at once in 64-bit lanes.
  (func (export "hsv") (param $p i32) (param $n i32)
    (local $end i32) (local $v0 v128) (local $v1 v128) (local $R v128) (local $G v128) (local $B v128)
    (local $V v128) (local $D v128) (local $S v128) (local $H v128) (local $lo v128) (local $hi v128)
    (local $fi v128) (local $vv v128) (local $out v128) (local $half v128)
    (local.set $half (v128.const i64x2 1073741824 1073741824))
    (local.set $end (i32.add (local.get $p) (i32.mul (i32.and (local.get $n) (i32.const -8)) (i32.const 3))))
    (block $blocks
      (br_if $blocks (i32.ge_u (local.get $p) (local.get $end)))
      (loop $block
        (local.set $v0 (v128.load (local.get $p)))
        (local.set $v1 (v128.load offset=8 (local.get $p)))
        (local.set $R (v128.and (i8x16.shuffle 0 0 3 0 6 0 9 0 12 0 15 0 26 0 29 0 (local.get $v0) (local.get $v1)) (v128.const i16x8 255 255 255 255 255 255 255 255)))
        (local.set $G (v128.and (i8x16.shuffle 1 0 4 0 7 0 10 0 13 0 24 0 27 0 30 0 (local.get $v0) (local.get $v1)) (v128.const i16x8 255 255 255 255 255 255 255 255)))
        (local.set $B (v128.and (i8x16.shuffle 2 0 5 0 8 0 11 0 14 0 25 0 28 0 31 0 (local.get $v0) (local.get $v1)) (v128.const i16x8 255 255 255 255 255 255 255 255)))
        (local.set $V (i16x8.max_u (i16x8.max_u (local.get $R) (local.get $G)) (local.get $B)))
        (local.set $D (i16x8.sub (local.get $V) (i16x8.min_u (i16x8.min_u (local.get $R) (local.get $G)) (local.get $B))))
        ;; s = (diff·round(1044480 / v) + 2048) >> 12
        (local.set $lo (i32x4.shr_s (i32x4.add (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $D))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.div (f32x4.splat (f32.const 1044480))
            (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $V)))))))
          (i32x4.splat (i32.const 2048))) (i32.const 12)))
        (local.set $hi (i32x4.shr_s (i32x4.add (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $D))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.div (f32x4.splat (f32.const 1044480))
            (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $V)))))))
          (i32x4.splat (i32.const 2048))) (i32.const 12)))
        (local.set $S (i16x8.narrow_i32x4_s (local.get $lo) (local.get $hi)))
        ;; h by the sector of the maximum (r first, then g), then (h·round(122880 / diff) + 2048) >> 12, +180 if < 0
        (local.set $H (v128.bitselect
          (i16x8.sub (local.get $G) (local.get $B))
          (v128.bitselect
            (i16x8.add (i16x8.sub (local.get $B) (local.get $R)) (i16x8.shl (local.get $D) (i32.const 1)))
            (i16x8.add (i16x8.sub (local.get $R) (local.get $G)) (i16x8.shl (local.get $D) (i32.const 2)))
            (i16x8.eq (local.get $V) (local.get $G)))
          (i16x8.eq (local.get $V) (local.get $R))))
        (local.set $lo (i32x4.shr_s (i32x4.add (i32x4.mul (i32x4.extend_low_i16x8_s (local.get $H))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.div (f32x4.splat (f32.const 122880))
            (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $D)))))))
          (i32x4.splat (i32.const 2048))) (i32.const 12)))
        (local.set $hi (i32x4.shr_s (i32x4.add (i32x4.mul (i32x4.extend_high_i16x8_s (local.get $H))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.div (f32x4.splat (f32.const 122880))
            (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $D)))))))
          (i32x4.splat (i32.const 2048))) (i32.const 12)))
        (local.set $lo (i32x4.add (local.get $lo) (v128.and (i32x4.shr_s (local.get $lo) (i32.const 31)) (i32x4.splat (i32.const 180)))))
        (local.set $hi (i32x4.add (local.get $hi) (v128.and (i32x4.shr_s (local.get $hi) (i32.const 31)) (i32x4.splat (i32.const 180)))))
        (local.set $H (i16x8.narrow_i32x4_s (local.get $lo) (local.get $hi)))
        ;; pixel 0: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 0 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 0 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 0 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=0 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=2 2 (local.get $p) (local.get $out))
        ;; pixel 1: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 1 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 1 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 1 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=3 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=5 2 (local.get $p) (local.get $out))
        ;; pixel 2: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 2 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 2 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 2 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=6 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=8 2 (local.get $p) (local.get $out))
        ;; pixel 3: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 3 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 3 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 3 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=9 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=11 2 (local.get $p) (local.get $out))
        ;; pixel 4: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 4 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 4 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 4 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=12 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=14 2 (local.get $p) (local.get $out))
        ;; pixel 5: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 5 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 5 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 5 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=15 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=17 2 (local.get $p) (local.get $out))
        ;; pixel 6: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 6 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 6 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 6 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=18 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=20 2 (local.get $p) (local.get $out))
        ;; pixel 7: the factors of (lutH[h], lutS[s]) times V' = lutV[v], rounded, as bytes 0, 8, 16
        (local.set $fi (v128.load offset=4096 (i32.shl
          (i32.or (i32.shl (i32.load8_u offset=2048 (i16x8.extract_lane_u 7 (local.get $H))) (i32.const 8))
                  (i32.load8_u offset=2304 (i16x8.extract_lane_u 7 (local.get $S))))
          (i32.const 4))))
        (local.set $vv (i32x4.splat (i32.load8_u offset=2560 (i16x8.extract_lane_u 7 (local.get $V)))))
        (local.set $out (i8x16.shuffle 0 8 16 0 0 0 0 0 0 0 0 0 0 0 0 0
          (i64x2.shr_u (i64x2.add (i64x2.extmul_low_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))
          (i64x2.shr_u (i64x2.add (i64x2.extmul_high_i32x4_u (local.get $fi) (local.get $vv)) (local.get $half)) (i32.const 31))))
        (v128.store16_lane offset=21 0 (local.get $p) (local.get $out))
        (v128.store8_lane offset=23 2 (local.get $p) (local.get $out))
        (local.set $p (i32.add (local.get $p) (i32.const 24)))
        (br_if $block (i32.lt_u (local.get $p) (local.get $end)))))
    (call $hsvScalar (local.get $p) (i32.and (local.get $n) (i32.const 7))))

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
  ;; Output pixel x reads its taps, padded to an even count, from byte first[x] of its row. Each weight
  ;; w is split exactly into w = hi·2^11 + lo (lo in 0…2047) so that both halves fit 16 bits: a pair of
  ;; taps (t, t+1) is spread to i16 lanes (r_t, r_t+1, g_t, g_t+1, b_t, b_t+1, 0, 0) by one shuffle and
  ;; summed per channel by dot products with (hi_t, hi_t+1, …) and (lo_t, lo_t+1, …), stored as two v128
  ;; per pair (`pairs` per output pixel); the sum is hi_sum·2^11 + lo_sum, Pillow's integer exactly.
  ;; Groups of two pairs share one 16-byte load at first[x] + 12·g; a last odd pair takes one more.
  ;; Reads may pass the last source pixel by up to 16 bytes and each pixel stores 4 bytes: the caller
  ;; leaves that much slack after src and dst.
  (func (export "resizeH")
    (param $src i32) (param $srcStride i32) (param $rows i32) (param $dst i32) (param $width i32)
    (param $first i32) (param $weights i32) (param $pairs i32)
    (local $y i32) (local $x i32) (local $row i32) (local $p i32) (local $w i32) (local $g i32) (local $groups i32)
    (local $v v128) (local $a v128) (local $hi v128) (local $lo v128) (local $acc v128) (local $zero v128) (local $half v128)
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $half (i32x4.splat (i32.const 2097152)))
    (local.set $groups (i32.shr_u (local.get $pairs) (i32.const 1)))
    (local.set $y (i32.const 0))
    (block $rowsDone
      (br_if $rowsDone (i32.le_s (local.get $rows) (i32.const 0)))
      (loop $eachRow
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $srcStride))))
        (local.set $w (local.get $weights))
        (local.set $x (i32.const 0))
        (loop $eachPixel
          (local.set $p (i32.add (local.get $row) (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2))))))
          (local.set $hi (local.get $zero))
          (local.set $lo (local.get $zero))
          (local.set $g (local.get $groups))
          (block $groupsDone
            (br_if $groupsDone (i32.eqz (local.get $g)))
            (loop $eachGroup
              (local.set $v (v128.load (local.get $p)))
              (local.set $a (i8x16.shuffle 0 16 3 16 1 16 4 16 2 16 5 16 16 16 16 16 (local.get $v) (local.get $zero)))
              (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $a) (v128.load offset=0 (local.get $w)))))
              (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $a) (v128.load offset=16 (local.get $w)))))
              (local.set $a (i8x16.shuffle 6 16 9 16 7 16 10 16 8 16 11 16 16 16 16 16 (local.get $v) (local.get $zero)))
              (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $a) (v128.load offset=32 (local.get $w)))))
              (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $a) (v128.load offset=48 (local.get $w)))))
              (local.set $p (i32.add (local.get $p) (i32.const 12)))
              (local.set $w (i32.add (local.get $w) (i32.const 64)))
              (local.set $g (i32.sub (local.get $g) (i32.const 1)))
              (br_if $eachGroup (local.get $g))))
          ;; an odd last pair
          (if (i32.and (local.get $pairs) (i32.const 1))
            (then
              (local.set $a (i8x16.shuffle 0 16 3 16 1 16 4 16 2 16 5 16 16 16 16 16 (v128.load (local.get $p)) (local.get $zero)))
              (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $a) (v128.load offset=0 (local.get $w)))))
              (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $a) (v128.load offset=16 (local.get $w)))))
              (local.set $w (i32.add (local.get $w) (i32.const 32)))))
          (local.set $acc (i32x4.shr_s
            (i32x4.add (i32x4.add (i32x4.shl (local.get $hi) (i32.const 11)) (local.get $lo)) (local.get $half))
            (i32.const 22)))
          (local.set $acc (i16x8.narrow_i32x4_s (local.get $acc) (local.get $acc)))
          (local.set $acc (i8x16.narrow_i16x8_u (local.get $acc) (local.get $acc)))
          (i32.store (local.get $dst) (i32x4.extract_lane 0 (local.get $acc)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 3)))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br_if $eachPixel (i32.lt_u (local.get $x) (local.get $width))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $eachRow (i32.lt_u (local.get $y) (local.get $rows))))))

  ;; Vertical pass: `height` output rows of n bytes at dst; output row y sums its taps, padded to an
  ;; even count, over rows of mid starting at byte first[y], stride bytes apart. Weights as in the
  ;; horizontal pass: per output row and pair of rows (t, t+1), the i16 vectors (hi_t, hi_t+1) ×4 and
  ;; (lo_t, lo_t+1) ×4 (`pairs` per output row); the bytes of the two rows are interleaved by shuffles
  ;; and summed with dot products. 16 bytes at a time: reads may pass a row's end by up to 15 bytes and
  ;; the padding tap reads one row past the taps; writes may pass a row's end by up to 15 bytes (rows
  ;; are written in order, so a spill into the next row is overwritten). The caller leaves a row and 16
  ;; bytes of slack after mid, and 16 bytes after dst.
  (func (export "resizeV")
    (param $mid i32) (param $stride i32) (param $dst i32) (param $height i32) (param $n i32)
    (param $first i32) (param $weights i32) (param $pairs i32)
    (local $y i32) (local $i i32) (local $t i32) (local $p i32) (local $wp i32) (local $out i32) (local $rowWeights i32)
    (local $va v128) (local $vb v128) (local $e v128) (local $wh v128) (local $wl v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128) (local $half v128)
    (local.set $half (i32x4.splat (i32.const 2097152)))
    (local.set $y (i32.const 0))
    (block $done
      (br_if $done (i32.le_s (local.get $height) (i32.const 0)))
      (loop $eachRow
        (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $n))))
        (local.set $rowWeights (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $y) (local.get $pairs)) (i32.const 5))))
        (local.set $i (i32.const 0))
        (loop $eachBlock
          (local.set $h0 (v128.const i32x4 0 0 0 0))
          (local.set $h1 (v128.const i32x4 0 0 0 0))
          (local.set $h2 (v128.const i32x4 0 0 0 0))
          (local.set $h3 (v128.const i32x4 0 0 0 0))
          (local.set $l0 (local.get $half))
          (local.set $l1 (local.get $half))
          (local.set $l2 (local.get $half))
          (local.set $l3 (local.get $half))
          (local.set $p (i32.add (i32.add (local.get $mid) (i32.load (i32.add (local.get $first) (i32.shl (local.get $y) (i32.const 2))))) (local.get $i)))
          (local.set $wp (local.get $rowWeights))
          (local.set $t (local.get $pairs))
          (loop $eachPair
            (local.set $va (v128.load (local.get $p)))
            (local.set $vb (v128.load (i32.add (local.get $p) (local.get $stride))))
            (local.set $wh (v128.load offset=0 (local.get $wp)))
            (local.set $wl (v128.load offset=16 (local.get $wp)))
            (local.set $e (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $va) (local.get $vb)))
            (local.set $h0 (i32x4.add (local.get $h0) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $e)) (local.get $wh))))
            (local.set $l0 (i32x4.add (local.get $l0) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $e)) (local.get $wl))))
            (local.set $h1 (i32x4.add (local.get $h1) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $e)) (local.get $wh))))
            (local.set $l1 (i32x4.add (local.get $l1) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $e)) (local.get $wl))))
            (local.set $e (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $va) (local.get $vb)))
            (local.set $h2 (i32x4.add (local.get $h2) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $e)) (local.get $wh))))
            (local.set $l2 (i32x4.add (local.get $l2) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $e)) (local.get $wl))))
            (local.set $h3 (i32x4.add (local.get $h3) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $e)) (local.get $wh))))
            (local.set $l3 (i32x4.add (local.get $l3) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $e)) (local.get $wl))))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 1))))
            (local.set $wp (i32.add (local.get $wp) (i32.const 32)))
            (local.set $t (i32.sub (local.get $t) (i32.const 1)))
            (br_if $eachPair (local.get $t)))
          (v128.store (i32.add (local.get $out) (local.get $i))
            (i8x16.narrow_i16x8_u
              (i16x8.narrow_i32x4_s
                (i32x4.shr_s (i32x4.add (i32x4.shl (local.get $h0) (i32.const 11)) (local.get $l0)) (i32.const 22))
                (i32x4.shr_s (i32x4.add (i32x4.shl (local.get $h1) (i32.const 11)) (local.get $l1)) (i32.const 22)))
              (i16x8.narrow_i32x4_s
                (i32x4.shr_s (i32x4.add (i32x4.shl (local.get $h2) (i32.const 11)) (local.get $l2)) (i32.const 22))
                (i32x4.shr_s (i32x4.add (i32x4.shl (local.get $h3) (i32.const 11)) (local.get $l3)) (i32.const 22)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $eachBlock (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $eachRow (i32.lt_u (local.get $y) (local.get $height))))))
)
