"""PyTorch side of `npm run bench -- forward`: YOLOv4 and YOLOv4-tiny written from reference-spec §1
(same module names, so the state-dict keys are the reference's), timed like the TypeScript side.

argv[1] is JSON:
  {"mode": "time", "cells": [{"variant", "classes", "kind": "infer"|"train", "batch", "size"}], "repeats": r, "warmup": w (default 1)}
     each cell: median ms, CPU ms and minor page faults per step, RSS before the timed steps and peak RSS (ru_maxrss)
  {"mode": "check", "safetensors": path, "variant", "classes", "io": golden io.json path}
     loads our safetensors export with load_state_dict(strict=True) and compares with the golden outputs.
The last stdout line is JSON.
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mish(nn.Module):
    def forward(self, x):
        return x * torch.tanh(F.softplus(x))


class BasicConv(nn.Module):
    """conv (no bias, padding k//2) -> BatchNorm2d -> Mish or LeakyReLU(0.1)."""

    def __init__(self, cin, cout, k, s=1, act="leaky"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = Mish() if act == "mish" else nn.LeakyReLU(0.1)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Residual(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.block = nn.Sequential(BasicConv(width, hidden, 1, act="mish"), BasicConv(hidden, width, 3, act="mish"))

    def forward(self, x):
        return x + self.block(x)


class CspStage(nn.Module):
    def __init__(self, cin, cout, blocks, first):
        super().__init__()
        width = cout if first else cout // 2
        hidden = cout // 2 if first else width
        self.downsample_conv = BasicConv(cin, cout, 3, 2, act="mish")
        self.split_conv0 = BasicConv(cout, width, 1, act="mish")
        self.split_conv1 = BasicConv(cout, width, 1, act="mish")
        self.blocks_conv = nn.Sequential(*[Residual(width, hidden) for _ in range(blocks)], BasicConv(width, width, 1, act="mish"))
        self.concat_conv = BasicConv(2 * width, cout, 1, act="mish")

    def forward(self, x):
        x = self.downsample_conv(x)
        shortcut = self.split_conv0(x)
        main = self.blocks_conv(self.split_conv1(x))
        return self.concat_conv(torch.cat([main, shortcut], 1))


class CspDarknet53(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = BasicConv(3, 32, 3, act="mish")
        widths, blocks = [64, 128, 256, 512, 1024], [1, 2, 8, 8, 4]
        cins = [32] + widths[:-1]
        self.stages = nn.ModuleList([CspStage(cins[i], widths[i], blocks[i], i == 0) for i in range(5)])

    def forward(self, x):
        x = self.conv1(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs[2], outs[3], outs[4]


def alternating(cin, a, wide, count):
    layers = []
    for i in range(count):
        layers.append(BasicConv(cin, a, 1) if i % 2 == 0 else BasicConv(a, wide, 3))
        cin = a if i % 2 == 0 else wide
    return nn.Sequential(*layers)


class Upsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.upsample = nn.Sequential(BasicConv(cin, cout, 1), nn.Upsample(scale_factor=2, mode="nearest"))

    def forward(self, x):
        return self.upsample(x)


def head(cin, wide, out):
    return nn.Sequential(BasicConv(cin, wide, 3), nn.Conv2d(wide, out, 1))


class YoloV4(nn.Module):
    def __init__(self, classes):
        super().__init__()
        out = 3 * (5 + classes)
        self.backbone = CspDarknet53()
        self.conv1 = alternating(1024, 512, 1024, 3)
        self.conv2 = alternating(2048, 512, 1024, 3)
        self.upsample1 = Upsample(512, 256)
        self.conv_for_P4 = BasicConv(512, 256, 1)
        self.make_five_conv1 = alternating(512, 256, 512, 5)
        self.upsample2 = Upsample(256, 128)
        self.conv_for_P3 = BasicConv(256, 128, 1)
        self.make_five_conv2 = alternating(256, 128, 256, 5)
        self.yolo_head3 = head(128, 256, out)
        self.down_sample1 = BasicConv(128, 256, 3, 2)
        self.make_five_conv3 = alternating(512, 256, 512, 5)
        self.yolo_head2 = head(256, 512, out)
        self.down_sample2 = BasicConv(256, 512, 3, 2)
        self.make_five_conv4 = alternating(1024, 512, 1024, 5)
        self.yolo_head1 = head(512, 1024, out)

    def forward(self, x):
        out3, out4, out5 = self.backbone(x)
        p5 = self.conv1(out5)
        p5 = torch.cat([F.max_pool2d(p5, k, 1, k // 2) for k in (13, 9, 5)] + [p5], 1)
        p5 = self.conv2(p5)
        p4 = self.make_five_conv1(torch.cat([self.conv_for_P4(out4), self.upsample1(p5)], 1))
        p3 = self.make_five_conv2(torch.cat([self.conv_for_P3(out3), self.upsample2(p4)], 1))
        p4 = self.make_five_conv3(torch.cat([self.down_sample1(p3), p4], 1))
        p5 = self.make_five_conv4(torch.cat([self.down_sample2(p4), p5], 1))
        return self.yolo_head1(p5), self.yolo_head2(p4), self.yolo_head3(p3)


class TinyBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = BasicConv(c, c, 3)
        self.conv2 = BasicConv(c // 2, c // 2, 3)
        self.conv3 = BasicConv(c // 2, c // 2, 3)
        self.conv4 = BasicConv(c, c, 1)

    def forward(self, x):
        route = self.conv1(x)
        half = route.shape[1] // 2
        r1 = self.conv2(route[:, half:])
        feat = self.conv4(torch.cat([self.conv3(r1), r1], 1))
        return F.max_pool2d(torch.cat([route, feat], 1), 2, 2), feat


class TinyBackbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = BasicConv(3, 32, 3, 2)
        self.conv2 = BasicConv(32, 64, 3, 2)
        self.resblock_body1 = TinyBlock(64)
        self.resblock_body2 = TinyBlock(128)
        self.resblock_body3 = TinyBlock(256)
        self.conv3 = BasicConv(512, 512, 3)

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        x, _ = self.resblock_body1(x)
        x, _ = self.resblock_body2(x)
        x, feat1 = self.resblock_body3(x)
        return feat1, self.conv3(x)


class YoloV4Tiny(nn.Module):
    def __init__(self, classes):
        super().__init__()
        out = 3 * (5 + classes)
        self.backbone = TinyBackbone()
        self.conv_for_P5 = BasicConv(512, 256, 1)
        self.yolo_headP5 = head(256, 512, out)
        self.upsample = Upsample(256, 128)
        self.yolo_headP4 = head(384, 256, out)

    def forward(self, x):
        feat1, feat2 = self.backbone(x)
        p5 = self.conv_for_P5(feat2)
        return self.yolo_headP5(p5), self.yolo_headP4(torch.cat([self.upsample(p5), feat1], 1))


def build(variant, classes):
    return YoloV4(classes) if variant == "yolov4" else YoloV4Tiny(classes)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def timed(fn, repeats, warmup=1):
    """Median wall time, CPU time (all threads) and minor page faults per step, RSS before and peak RSS (MB)."""
    for _ in range(warmup):
        fn()
    rss_before = rss_mb()
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    cpu0 = time.process_time()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"medianMs": statistics.median(samples), "minMs": min(samples), "maxMs": max(samples), "repeats": repeats,
            "cpuMsPerStep": (time.process_time() - cpu0) * 1000.0 / repeats,
            "minorFaultsPerStep": (usage.ru_minflt - faults0) / repeats,
            "rssBeforeMB": rss_before, "peakRssMB": usage.ru_maxrss / 1024}


def time_cell(cell, repeats, warmup=1):
    model = build(cell["variant"], cell["classes"])
    x = torch.rand(cell["batch"], 3, cell["size"], cell["size"])
    if cell["kind"] == "infer":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            loss = sum(torch.mean(o * o) for o in model(x))  # the same stand-in loss as the TypeScript side
            loss.backward()
            opt.step()
    return timed(step, repeats, warmup)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64}[info["dtype"]]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        out[name] = torch.frombuffer(raw, dtype=dtype).reshape(info["shape"]) if raw else torch.zeros(info["shape"], dtype=dtype)
    return out


def check(args):
    model = build(args["variant"], args["classes"])
    model.load_state_dict(read_safetensors(args["safetensors"]), strict=True)
    model.eval()
    with open(args["io"]) as f:
        io = json.load(f)
    h, w = io["input_shape"]
    x = torch.tensor(io["input_nhwc"], dtype=torch.float32).reshape(1, h, w, 3).permute(0, 3, 1, 2)
    with torch.no_grad():
        outs = model(x)
    errors = []
    for level, o in enumerate(outs):
        want = torch.tensor(io["outputs"][level]["nhwc"]).reshape(o.permute(0, 2, 3, 1).shape)
        got = o.permute(0, 2, 3, 1)
        errors.append(float((got - want).abs().max() / want.abs().max()))
    return {"relativeMaxError": errors, "params": sum(p.numel() for p in model.parameters())}


def main():
    args = json.loads(sys.argv[1])
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if args["mode"] == "check":
        print(json.dumps(check(args)))
        return
    results = []
    for cell in args["cells"]:
        try:
            results.append({**cell, **time_cell(cell, args["repeats"], args.get("warmup", 1))})
        except RuntimeError as err:  # e.g. out of memory
            results.append({**cell, "error": str(err).split("\n")[0][:200]})
    print(json.dumps({"torch": torch.__version__, "threads": threads, "results": results}))


if __name__ == "__main__":
    main()
