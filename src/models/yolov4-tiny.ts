/**
 * YOLOv4-tiny: CSPDarknet53-tiny (LeakyReLU 0.1) → FPN-lite → two heads, with optional attention
 * (reference-spec §1.9). Nodes are appended in yolov4-tiny.cfg order; attention parameters come last
 * in the state dict, as the reference registers them last.
 */
import { GraphBuilder, type AttentionKind, type Graph } from './graph.js';

/** `phi` → attention block (0 = none). */
export const ATTENTION_BY_PHI: readonly (AttentionKind | undefined)[] = [undefined, 'se', 'cbam', 'eca'];

/** The tiny CSP block of width C; returns [pooled output (2C), feat (C)]. */
function tinyCspBlock(b: GraphBuilder, x: number, name: string, c: number): [number, number] {
  const route = b.conv(x, `${name}.conv1`, c, 3, 1, 'leaky');
  const secondHalf = b.sliceChannels(route, c / 2, c / 2);
  const r1 = b.conv(secondHalf, `${name}.conv2`, c / 2, 3, 1, 'leaky');
  const r2 = b.conv(r1, `${name}.conv3`, c / 2, 3, 1, 'leaky');
  const feat = b.conv(b.concat(r2, r1), `${name}.conv4`, c, 1, 1, 'leaky');
  return [b.maxPool(b.concat(route, feat), 2, 2), feat];
}

/** The YOLOv4-tiny graph for `numClasses` classes; `phi` 0–3 picks no attention, SE, CBAM or ECA. */
export function yolov4TinyGraph(numClasses: number, phi = 0): Graph {
  const out = 3 * (5 + numClasses);
  const attention = ATTENTION_BY_PHI[phi];
  const b = new GraphBuilder();
  let x = b.conv(b.input, 'backbone.conv1', 32, 3, 2, 'leaky');
  x = b.conv(x, 'backbone.conv2', 64, 3, 2, 'leaky');
  [x] = tinyCspBlock(b, x, 'backbone.resblock_body1', 64);
  [x] = tinyCspBlock(b, x, 'backbone.resblock_body2', 128);
  let feat1: number;
  [x, feat1] = tinyCspBlock(b, x, 'backbone.resblock_body3', 256);
  let feat2 = b.conv(x, 'backbone.conv3', 512, 3, 1, 'leaky');
  if (attention) {
    feat1 = b.attention(feat1, 'feat1_att', attention);
    feat2 = b.attention(feat2, 'feat2_att', attention);
  }
  const p5 = b.conv(feat2, 'conv_for_P5', 256, 1, 1, 'leaky');
  const level0 = b.headConv(b.conv(p5, 'yolo_headP5.0', 512, 3, 1, 'leaky'), 'yolo_headP5.1', out);
  let up = b.upsample(b.conv(p5, 'upsample.upsample.0', 128, 1, 1, 'leaky'));
  if (attention) up = b.attention(up, 'upsample_att', attention);
  const p4 = b.concat(up, feat1);
  const level1 = b.headConv(b.conv(p4, 'yolo_headP4.0', 256, 3, 1, 'leaky'), 'yolo_headP4.1', out);
  return b.build([level0, level1], 'backbone.');
}
