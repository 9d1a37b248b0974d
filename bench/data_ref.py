"""The reference's training data pipeline (PIL + NumPy, OpenCV for HSV), re-implemented from
reference-spec.md §3 for `npm run bench -- data`: mosaic / mixup / ordinary augmentation with the
reference's probabilities, float32 CHW output, torch DataLoader with N workers and its list collate.

argv[1]: JSON {lines: [...annotation lines...], input: [h, w], batch: B, batches: N, workers: W,
               mosaic_prob, mixup_prob, seed}
Last stdout line: JSON {images_per_s, cpu_s_per_image, hsv}
"""
import json
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

try:
    import cv2

    HSV = "opencv"
except ImportError:  # NumPy emulation of OpenCV's 8-bit conversions (slower than OpenCV)
    cv2 = None
    HSV = "numpy-emulation"

_SDIV = np.array([0] + [round((255 << 12) / i) for i in range(1, 256)], np.int64)
_HDIV = np.array([0] + [round((180 << 12) / (6 * i)) for i in range(1, 256)], np.int64)


def _rgb2hsv(img):
    rgb = img.astype(np.int64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(-1)
    diff = v - rgb.min(-1)
    s = (diff * _SDIV[v] + 2048) >> 12
    h = np.where(v == r, g - b, np.where(v == g, b - r + 2 * diff, r - g + 4 * diff))
    h = (h * _HDIV[diff] + 2048) >> 12
    h = np.where(h < 0, h + 180, h)
    return h, s, v


def _hsv2rgb(h, s, v):
    s = s.astype(np.float32) / 255.0
    v = v.astype(np.float32)
    hf = h.astype(np.float32) / 30.0
    hf = np.where(hf >= 6, hf - 6, hf)
    sector = np.floor(hf).astype(np.int64)
    f = hf - sector
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    tab = np.stack([v, p, q, t], -1)
    R = np.array([0, 2, 1, 1, 3, 0])[sector]
    G = np.array([3, 0, 0, 2, 1, 1])[sector]
    B = np.array([1, 1, 3, 0, 0, 2])[sector]
    pick = lambda idx: np.take_along_axis(tab, idx[..., None], -1)[..., 0]
    out = np.stack([pick(R), pick(G), pick(B)], -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def rand(a=0.0, b=1.0):
    return np.random.rand() * (b - a) + a


def hsv_jitter(image_data, hue=0.1, sat=0.7, val=0.4):
    r = np.random.uniform(-1, 1, 3) * [hue, sat, val] + 1
    x = np.arange(0, 256, dtype=r.dtype)
    lut_hue = ((x * r[0]) % 180).astype(np.uint8)
    lut_sat = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_val = np.clip(x * r[2], 0, 255).astype(np.uint8)
    if cv2 is not None:
        h, s, v = cv2.split(cv2.cvtColor(image_data, cv2.COLOR_RGB2HSV))
        merged = cv2.merge((cv2.LUT(h, lut_hue), cv2.LUT(s, lut_sat), cv2.LUT(v, lut_val)))
        return cv2.cvtColor(merged, cv2.COLOR_HSV2RGB)
    h, s, v = _rgb2hsv(image_data)
    return _hsv2rgb(lut_hue[h], lut_sat[s], lut_val[v])


def parse(line):
    parts = line.split()
    boxes = np.array([list(map(int, map(float, b.split(",")))) for b in parts[1:]], dtype=np.int64).reshape(-1, 5)
    return parts[0], boxes


def open_rgb(path):
    image = Image.open(path)
    return image if image.mode == "RGB" else image.convert("RGB")


def place_boxes(box, iw, ih, nw, nh, dx, dy, w, h, flip):
    if len(box) == 0:
        return box
    np.random.shuffle(box)
    box[:, [0, 2]] = box[:, [0, 2]] * nw / iw + dx
    box[:, [1, 3]] = box[:, [1, 3]] * nh / ih + dy
    if flip:
        box[:, [0, 2]] = w - box[:, [2, 0]]
    box[:, 0:2][box[:, 0:2] < 0] = 0
    box[:, 2][box[:, 2] > w] = w
    box[:, 3][box[:, 3] > h] = h
    bw, bh = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    return box[np.logical_and(bw > 1, bh > 1)]


def random_data(line, input_shape, jitter=0.3):
    path, box = parse(line)
    image = open_rgb(path)
    iw, ih = image.size
    h, w = input_shape
    new_ar = iw / ih * rand(1 - jitter, 1 + jitter) / rand(1 - jitter, 1 + jitter)
    scale = rand(0.25, 2)
    if new_ar < 1:
        nh = int(scale * h)
        nw = int(nh * new_ar)
    else:
        nw = int(scale * w)
        nh = int(nw / new_ar)
    image = image.resize((nw, nh), Image.BICUBIC)
    dx, dy = int(rand(0, w - nw)), int(rand(0, h - nh))
    canvas = Image.new("RGB", (w, h), (128, 128, 128))
    canvas.paste(image, (dx, dy))
    flip = rand() < 0.5
    if flip:
        canvas = canvas.transpose(Image.FLIP_LEFT_RIGHT)
    image_data = hsv_jitter(np.array(canvas, np.uint8))
    return image_data, place_boxes(box, iw, ih, nw, nh, dx, dy, w, h, flip)


def merge_boxes(tiles, cutx, cuty):
    out = []
    for i, boxes in enumerate(tiles):
        for x1, y1, x2, y2, c in boxes:
            if i == 0:
                if y1 > cuty or x1 > cutx:
                    continue
                if y2 >= cuty and y1 <= cuty:
                    y2 = cuty
                if x2 >= cutx and x1 <= cutx:
                    x2 = cutx
            if i == 1:
                if y2 < cuty or x1 > cutx:
                    continue
                if y2 >= cuty and y1 <= cuty:
                    y1 = cuty
                if x2 >= cutx and x1 <= cutx:
                    x2 = cutx
            if i == 2:
                if y2 < cuty or x2 < cutx:
                    continue
                if y2 >= cuty and y1 <= cuty:
                    y1 = cuty
                if x2 >= cutx and x1 <= cutx:
                    x1 = cutx
            if i == 3:
                if y1 > cuty or x2 < cutx:
                    continue
                if y2 >= cuty and y1 <= cuty:
                    y2 = cuty
                if x2 >= cutx and x1 <= cutx:
                    x1 = cutx
            out.append([x1, y1, x2, y2, c])
    return out


def mosaic(lines, input_shape, jitter=0.3):
    h, w = input_shape
    ox, oy = rand(0.3, 0.7), rand(0.3, 0.7)
    cutx, cuty = int(w * ox), int(h * oy)
    datas, tiles = [], []
    for index, line in enumerate(lines):
        path, box = parse(line)
        image = open_rgb(path)
        iw, ih = image.size
        flip = rand() < 0.5
        if flip and len(box) > 0:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
            box[:, [0, 2]] = iw - box[:, [2, 0]]
        new_ar = iw / ih * rand(1 - jitter, 1 + jitter) / rand(1 - jitter, 1 + jitter)
        scale = rand(0.4, 1)
        if new_ar < 1:
            nh = int(scale * h)
            nw = int(nh * new_ar)
        else:
            nw = int(scale * w)
            nh = int(nw / new_ar)
        image = image.resize((nw, nh), Image.BICUBIC)
        dx = cutx - nw if index in (0, 1) else cutx
        dy = cuty - nh if index in (0, 3) else cuty
        canvas = Image.new("RGB", (w, h), (128, 128, 128))
        canvas.paste(image, (dx, dy))
        datas.append(np.array(canvas))
        tiles.append(place_boxes(box, iw, ih, nw, nh, dx, dy, w, h, False))
    composite = np.zeros([h, w, 3])
    composite[:cuty, :cutx] = datas[0][:cuty, :cutx]
    composite[cuty:, :cutx] = datas[1][cuty:, :cutx]
    composite[cuty:, cutx:] = datas[2][cuty:, cutx:]
    composite[:cuty, cutx:] = datas[3][:cuty, cutx:]
    composite = hsv_jitter(np.array(composite, np.uint8))
    return composite, merge_boxes(tiles, cutx, cuty)


class RefDataset(Dataset):
    def __init__(self, lines, input_shape, mosaic_prob, mixup_prob):
        self.lines, self.input_shape = lines, input_shape
        self.mosaic_prob, self.mixup_prob = mosaic_prob, mixup_prob

    def __len__(self):
        return len(self.lines)

    def __getitem__(self, index):
        index = index % len(self.lines)
        if rand() < self.mosaic_prob:
            lines = random.sample(self.lines, 3)
            lines.append(self.lines[index])
            random.shuffle(lines)
            image, box = mosaic(lines, self.input_shape)
            if rand() < self.mixup_prob:
                image2, box2 = random_data(random.sample(self.lines, 1)[0], self.input_shape)
                image = np.array(image, np.float32) * 0.5 + np.array(image2, np.float32) * 0.5
                box = list(box) + list(box2)
        else:
            image, box = random_data(self.lines[index], self.input_shape)
        image = np.transpose(np.array(image, dtype=np.float32) / 255.0, (2, 0, 1))
        box = np.array(box, dtype=np.float32).reshape(-1, 5)
        if len(box) != 0:
            h, w = self.input_shape
            box[:, [0, 2]] /= w
            box[:, [1, 3]] /= h
            box[:, 2:4] = box[:, 2:4] - box[:, 0:2]
            box[:, 0:2] = box[:, 0:2] + box[:, 2:4] / 2
        return image, box


def collate(batch):
    images = torch.from_numpy(np.array([b[0] for b in batch])).type(torch.FloatTensor)
    boxes = [torch.from_numpy(b[1]).type(torch.FloatTensor) for b in batch]
    return images, boxes


def cpu_seconds(pids):
    """CPU seconds (user + system, all threads) used so far by this process and the worker processes
    `pids`, read while they run, so the count covers exactly the timed window."""
    own = os.times()
    total = own.user + own.system
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def stages(args):
    """CPU milliseconds per call of each stage, in this process (for `--stages`)."""
    paths = [parse(line)[0] for line in args["lines"]]
    reps = args.get("reps", 60)
    h, w = args["input"]
    rgb = [np.array(open_rgb(p)) for p in paths[:reps]]
    ds = RefDataset(args["lines"], (h, w), 0.5, 0.5)

    def cpu_ms(f):
        for i in range(5):
            f(i)
        c0 = time.process_time()
        for i in range(reps):
            f(i)
        return (time.process_time() - c0) / reps * 1000

    def to_float(i):
        np.transpose(np.array(rgb[i], dtype=np.float32) / 255.0, (2, 0, 1))

    return {
        "decode": cpu_ms(lambda i: np.array(open_rgb(paths[i]))),
        "decode + reduce to 0.7": cpu_ms(lambda i: np.array(open_rgb(paths[i]).resize((int(0.7 * w), int(0.7 * h)), Image.BICUBIC))),
        "decode + enlarge to 1.5": cpu_ms(lambda i: np.array(open_rgb(paths[i]).resize((int(1.5 * w), int(1.5 * h)), Image.BICUBIC))),
        "HSV jitter": cpu_ms(lambda i: hsv_jitter(rgb[i])),
        "to float": cpu_ms(to_float),
        "whole sample": cpu_ms(lambda i: ds[i]),
    }


def main():
    args = json.loads(sys.argv[1])
    if args.get("stages"):
        torch.set_num_threads(1)
        np.random.seed(args["seed"])
        random.seed(args["seed"])
        print(json.dumps(stages(args)))
        return
    torch.set_num_threads(1)
    np.random.seed(args["seed"])
    random.seed(args["seed"])
    ds = RefDataset(args["lines"], tuple(args["input"]), args["mosaic_prob"], args["mixup_prob"])
    seed = args["seed"]
    loader = DataLoader(ds, batch_size=args["batch"], shuffle=True, drop_last=True, num_workers=args["workers"],
                        collate_fn=collate, worker_init_fn=lambda wid: (np.random.seed(seed + wid), random.seed(seed + wid)),
                        persistent_workers=False)
    it = iter(loader)
    # warm-up: worker start-up and the batches already under way when timing starts are not timed
    for _ in range(args.get("warmup", 1)):
        next(it)
    pids = [w.pid for w in getattr(it, "_workers", [])]
    c0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    n = 0
    for _ in range(args["batches"]):
        images, _boxes = next(it)
        n += images.shape[0]
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pids) - c0
    del it
    print(json.dumps({"images_per_s": n / elapsed, "cpu_s_per_image": cpu / n, "hsv": HSV, "images": n}))


if __name__ == "__main__":
    main()
