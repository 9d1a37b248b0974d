import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useBackend } from '../../test/helpers.js';
import { decodeSafetensors, encodeSafetensors, exportSafetensors, importSafetensors } from './safetensors.js';
import { createYolo } from './yolo.js';

before(() => useBackend('cpu'));

test('safetensors layout: 8-byte header length, JSON header, aligned little-endian data', () => {
  const bytes = encodeSafetensors(
    new Map([
      ['a', { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) }],
      ['n', { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) }],
    ]),
    { note: 'x' },
  );
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.a, { dtype: 'F32', shape: [2], data_offsets: [0, 8] });
  assert.deepEqual(header.n, { dtype: 'I64', shape: [], data_offsets: [8, 16] });
  assert.equal(view.getFloat32(8 + n + 4, true), -2);
  assert.equal(view.getBigInt64(8 + n + 8, true), 7n);
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { note: 'x' });
  assert.deepEqual([...(back.tensors.get('a')?.data ?? [])], [1.5, -2]);
  assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.byteLength - 4), 'cut.safetensors'), /cut\.safetensors: tensor 'n'.*truncated/);
});

test('safetensors export uses the reference state-dict names and PyTorch layouts, and round-trips bit-exactly', () => {
  const model = createYolo({ variant: 'yolov4-tiny', numClasses: 3, phi: 2, seed: 11 });
  model.batchesTracked = 5;
  const bytes = exportSafetensors(model);
  const { tensors } = decodeSafetensors(bytes);
  // names and shapes of §1.8 / §1.9
  const conv = tensors.get('backbone.conv1.conv.weight');
  assert.deepEqual(conv?.shape, [32, 3, 3, 3]); // OIHW
  assert.deepEqual(tensors.get('backbone.resblock_body3.conv4.bn.running_var')?.shape, [256]);
  assert.deepEqual(tensors.get('yolo_headP4.1.bias')?.shape, [24]);
  assert.deepEqual(tensors.get('feat2_att.channelattention.fc1.weight')?.shape, [64, 512, 1, 1]);
  assert.deepEqual(tensors.get('upsample_att.spatialattention.conv1.weight')?.shape, [1, 2, 7, 7]);
  assert.equal((tensors.get('backbone.conv1.bn.num_batches_tracked')?.data as BigInt64Array)[0], 5n);
  // OIHW element [o][i][kh][kw] equals the tfjs HWIO element [kh][kw][i][o]
  const hwio = model.readParam('backbone.conv1.conv.weight');
  const oihw = conv?.data as Float32Array;
  for (const [o, i, kh, kw] of [[0, 0, 0, 0], [31, 2, 1, 0], [7, 1, 2, 2], [20, 0, 0, 1]]) {
    assert.equal(oihw[((o * 3 + i) * 3 + kh) * 3 + kw], hwio[((kh * 3 + kw) * 3 + i) * 32 + o]);
  }
  const other = createYolo({ variant: 'yolov4-tiny', numClasses: 3, phi: 2, seed: 12 });
  const info = importSafetensors(other, bytes);
  assert.equal(info.loaded.length, model.params.length);
  for (const p of model.params) assert.deepEqual(other.readParam(p.key), model.readParam(p.key), p.key);
  assert.equal(other.batchesTracked, 5);
  assert.ok(Buffer.compare(Buffer.from(exportSafetensors(other)), Buffer.from(bytes)) === 0);
  [model, other].forEach((m) => m.dispose());
});

test('safetensors import is strict by default and shape-matched in partial mode', () => {
  const src = createYolo({ variant: 'yolov4-tiny', numClasses: 80, seed: 1 });
  const bytes = exportSafetensors(src);
  const dst = createYolo({ variant: 'yolov4-tiny', numClasses: 20, seed: 2 });
  assert.throws(() => importSafetensors(dst, bytes, { source: 'coco.safetensors' }), /coco\.safetensors: 'yolo_headP5\.1\.weight' has shape \[255, 512, 1, 1\] F32; yolov4-tiny with 20 classes needs \[75, 512, 1, 1\]/);
  const info = importSafetensors(dst, bytes, { partial: true });
  assert.deepEqual(info.skipped, ['yolo_headP5.1.weight', 'yolo_headP5.1.bias', 'yolo_headP4.1.weight', 'yolo_headP4.1.bias']);
  assert.deepEqual(dst.readParam('backbone.conv3.conv.weight'), src.readParam('backbone.conv3.conv.weight'));
  const se = createYolo({ variant: 'yolov4-tiny', numClasses: 80, phi: 1, seed: 3 });
  assert.throws(() => importSafetensors(se, bytes), /'feat1_att\.fc\.0\.weight' is missing/);
  [src, dst, se].forEach((m) => m.dispose());
});
