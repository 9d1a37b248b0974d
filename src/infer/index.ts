// Public API of src/infer/: the Detector, pre-processing and drawing.
export { Detector, type Detection, type DetectOptions, type DetectorOptions, type DetectTimings } from './detector.js';
export { prepareImage, type ImageInput, type PreparedImage } from './preprocess.js';
export { drawDetections, classColor, type DrawOptions } from './draw.js';
export { openDetector, type OpenDetectorOptions } from './open.js';
export { evaluateDetector, type EvaluateDetectorOptions } from './evaluate.js';
