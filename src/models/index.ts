// Public API of src/models/: the YOLOv4 / YOLOv4-tiny networks, Darknet weights, safetensors, checkpoints.
export { createYolo, Yolo, YOLO_VARIANTS, VARIANT_ANCHORS, type CreateYoloOptions, type YoloVariant } from './yolo.js';
export { BN_EPSILON, BN_MOMENTUM, LEAKY_SLOPE } from './forward.js';
export type { Graph, GraphNode, ConvNode, Activation, AttentionKind } from './graph.js';
export { kerasWeightName, torchShape, type ParamSpec, type ParamRole, type TorchLayout, type InitRule } from './params.js';
export {
  loadDarknetWeights, saveDarknetWeights, readDarknetHeader, darknetFileSize, DARKNET_VERSION,
  type DarknetHeader, type DarknetLoadInfo,
} from './darknet.js';
export {
  encodeSafetensors, decodeSafetensors, exportSafetensors, importSafetensors,
  type SafetensorsDtype, type SafetensorsEntry, type SafetensorsImportInfo,
} from './safetensors.js';
export {
  saveCheckpoint, loadCheckpoint, checkpointFiles, SIDECAR_FILE, MODEL_FILE,
  type CheckpointMeta, type SaveCheckpointOptions, type CheckpointFiles,
} from './checkpoint.js';
export { layersModelTopology } from './layers-topology.js';
