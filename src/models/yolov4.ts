/**
 * YOLOv4: CSPDarknet53 (Mish) → SPP → PANet (LeakyReLU 0.1) → three heads (reference-spec §1.2–1.4).
 * Nodes are appended in the reference's module registration order (= Darknet yolov4.cfg order).
 */
import { GraphBuilder, type Graph } from './graph.js';

/** One CSP stage of the backbone; returns the stage output node. */
function cspStage(b: GraphBuilder, x: number, index: number, outChannels: number, blocks: number): number {
  const p = `backbone.stages.${index}`;
  const first = index === 0;
  // Stage 1 keeps the full width in its split convs; later stages halve it.
  const width = first ? outChannels : outChannels / 2;
  const hidden = first ? outChannels / 2 : width;
  const down = b.conv(x, `${p}.downsample_conv`, outChannels, 3, 2, 'mish');
  const shortcut = b.conv(down, `${p}.split_conv0`, width, 1, 1, 'mish');
  let main = b.conv(down, `${p}.split_conv1`, width, 1, 1, 'mish');
  for (let i = 0; i < blocks; i++) {
    const h = b.conv(main, `${p}.blocks_conv.${i}.block.0`, hidden, 1, 1, 'mish');
    const f = b.conv(h, `${p}.blocks_conv.${i}.block.1`, width, 3, 1, 'mish');
    main = b.add(main, f); // no activation after the residual add
  }
  const tail = b.conv(main, `${p}.blocks_conv.${blocks}`, width, 1, 1, 'mish');
  return b.conv(b.concat(tail, shortcut), `${p}.concat_conv`, outChannels, 1, 1, 'mish');
}

/** 1×1 → 3×3 → 1×1 (three-conv) or five alternating convs (five-conv), widths (a, b). */
function alternatingConvs(b: GraphBuilder, x: number, name: string, count: number, a: number, wide: number): number {
  for (let i = 0; i < count; i++) {
    x = i % 2 === 0 ? b.conv(x, `${name}.${i}`, a, 1, 1, 'leaky') : b.conv(x, `${name}.${i}`, wide, 3, 1, 'leaky');
  }
  return x;
}

/** A head: CBL 3×3 to `wide`, then the 1×1 output conv with bias. */
function head(b: GraphBuilder, x: number, name: string, wide: number, outputs: number): number {
  return b.headConv(b.conv(x, `${name}.0`, wide, 3, 1, 'leaky'), `${name}.1`, outputs);
}

/** The YOLOv4 graph for `numClasses` classes (3 anchors per level). */
export function yolov4Graph(numClasses: number): Graph {
  const out = 3 * (5 + numClasses);
  const b = new GraphBuilder();
  let x = b.conv(b.input, 'backbone.conv1', 32, 3, 1, 'mish');
  const stageOut: number[] = [];
  const widths = [64, 128, 256, 512, 1024];
  const blocks = [1, 2, 8, 8, 4];
  for (let i = 0; i < 5; i++) {
    x = cspStage(b, x, i, widths[i], blocks[i]);
    stageOut.push(x);
  }
  const [, , out3, out4, out5] = stageOut;

  let p5 = alternatingConvs(b, out5, 'conv1', 3, 512, 1024);
  // SPP: concat [pool13, pool9, pool5, input]
  p5 = b.concat(b.maxPool(p5, 13, 1), b.maxPool(p5, 9, 1), b.maxPool(p5, 5, 1), p5);
  p5 = alternatingConvs(b, p5, 'conv2', 3, 512, 1024);

  const p5Up = b.upsample(b.conv(p5, 'upsample1.upsample.0', 256, 1, 1, 'leaky'));
  let p4 = b.conv(out4, 'conv_for_P4', 256, 1, 1, 'leaky');
  p4 = alternatingConvs(b, b.concat(p4, p5Up), 'make_five_conv1', 5, 256, 512);

  const p4Up = b.upsample(b.conv(p4, 'upsample2.upsample.0', 128, 1, 1, 'leaky'));
  let p3 = b.conv(out3, 'conv_for_P3', 128, 1, 1, 'leaky');
  p3 = alternatingConvs(b, b.concat(p3, p4Up), 'make_five_conv2', 5, 128, 256);
  const level2 = head(b, p3, 'yolo_head3', 256, out);

  const p3Down = b.conv(p3, 'down_sample1', 256, 3, 2, 'leaky');
  p4 = alternatingConvs(b, b.concat(p3Down, p4), 'make_five_conv3', 5, 256, 512);
  const level1 = head(b, p4, 'yolo_head2', 512, out);

  const p4Down = b.conv(p4, 'down_sample2', 512, 3, 2, 'leaky');
  p5 = alternatingConvs(b, b.concat(p4Down, p5), 'make_five_conv4', 5, 512, 1024);
  const level0 = head(b, p5, 'yolo_head1', 1024, out);

  return b.build([level0, level1, level2], 'backbone.');
}
