/** The shapes that flow through src/data/: samples, issues, datasets and their YAML description. */

/** The dataset formats we read and write. */
export type DatasetFormat = 'yolo' | 'voc' | 'coco' | 'lines';

/** Every format name, for validation messages. */
export const DATASET_FORMATS: readonly DatasetFormat[] = ['yolo', 'voc', 'coco', 'lines'];

/** One annotated image. Boxes are `[x1, y1, x2, y2]` in pixels of the (EXIF-oriented) image. */
export interface Sample {
  /** absolute path of the image file */
  image: string;
  /** image size when the annotation states it (VOC `size`, COCO `width`/`height`, YOLO from the header) */
  width?: number;
  height?: number;
  /** `[x1, y1, x2, y2]` pixel corners, one row per object */
  boxes: number[][];
  /** 0-based class index per object */
  classes: number[];
  /** VOC `difficult` flag per object (kept for evaluation, dropped from training like the reference) */
  difficult?: boolean[];
  /** COCO `iscrowd` flag per object (kept for evaluation, excluded from training) */
  crowd?: boolean[];
  /** the annotation file this sample came from (for messages) */
  source?: string;
}

/** A problem found while reading or checking a dataset. */
export interface DatasetIssue {
  severity: 'error' | 'warning';
  /** the file the problem is in (annotation or image) */
  file: string;
  /** 1-based line number for line formats */
  line?: number;
  /** the image of the sample affected, when the problem concerns one sample */
  image?: string;
  message: string;
}

/** A split (train, val, …) read from disk. */
export interface Dataset {
  format: DatasetFormat;
  /** class names, index = class id */
  names: string[];
  samples: Sample[];
  /** problems met while reading (malformed files, unknown classes, missing files) */
  issues: DatasetIssue[];
}

/** A split source as written in a dataset YAML: a path, or for COCO an annotations file plus an images folder. */
export type SplitSource = string | { annotations: string; images?: string };

/** A dataset YAML after parsing and validation (paths absolute). */
export interface DatasetConfig {
  /** the YAML file, absolute */
  file: string;
  /** dataset root; split paths are relative to it */
  root: string;
  format: DatasetFormat;
  names: string[];
  /** split name → source (train, val, test; others allowed) */
  splits: Record<string, SplitSource>;
}
