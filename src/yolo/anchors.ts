/**
 * The reference's anchors (w, h in input-image pixels, used unchanged for any input size) and the
 * anchor masks that assign them to output levels (level 0 = stride 32), reference-spec §1.5 and §1.9.
 */

/** YOLOv4 anchors, indices 0…8 (darknet's yolov4.cfg). */
export const YOLOV4_ANCHORS: readonly (readonly [number, number])[] = [
  [12, 16], [19, 36], [40, 28], [36, 75], [76, 55], [72, 146], [142, 110], [192, 243], [459, 401],
];

/** YOLOv4 anchor masks: level 0 (stride 32) takes the three largest anchors. */
export const YOLOV4_ANCHORS_MASK: readonly (readonly number[])[] = [[6, 7, 8], [3, 4, 5], [0, 1, 2]];

/** YOLOv4-tiny anchors, indices 0…5 (darknet's yolov4-tiny.cfg). */
export const YOLOV4_TINY_ANCHORS: readonly (readonly [number, number])[] = [
  [10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319],
];

/**
 * YOLOv4-tiny anchor masks: anchor 0 is in no level and anchor 3 in both (a ground truth matched
 * to anchor 3 is positive at both levels, reference-spec §2.10).
 */
export const YOLOV4_TINY_ANCHORS_MASK: readonly (readonly number[])[] = [[3, 4, 5], [1, 2, 3]];
