"""PyTorch side of bench/train-synth.ts: one YOLOv4-tiny training step (forward, the loss of spec §2 from
yolo_loss.py, backward, SGD Nesterov step), timed, at the same batch size and input size.

argv[1]: JSON {"batch": B, "size": S, "classes": C, "targets": [[cx,cy,w,h,cls,...] per image],
               "repeats": n, "threads": t}
Prints one JSON line: {"torch": version, "threads": t, "bce": {...}, "focal": {...}, "network": {...}} with median
ms per step; "network" is the step with a trivial loss (mean of squares of the heads), the network's share.
The network follows spec §1.9 (CSPDarknet53-tiny, FPN head, phi = 0), written here for the measurement only.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yolo_loss import Loss  # noqa: E402


class CBL(nn.Sequential):
    def __init__(self, cin, cout, k, s=1):
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1))


class TinyCSP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = CBL(c, c, 3), CBL(c // 2, c // 2, 3), CBL(c // 2, c // 2, 3)
        self.conv4, self.pool = CBL(c, c, 1), nn.MaxPool2d(2, 2)

    def forward(self, x):
        route = self.conv1(x)
        r1 = self.conv2(route[:, route.shape[1] // 2:])
        feat = self.conv4(torch.cat([self.conv3(r1), r1], 1))
        return self.pool(torch.cat([route, feat], 1)), feat


class YoloV4Tiny(nn.Module):
    def __init__(self, classes):
        super().__init__()
        out = 3 * (5 + classes)
        self.stem = nn.Sequential(CBL(3, 32, 3, 2), CBL(32, 64, 3, 2))
        self.b1, self.b2, self.b3 = TinyCSP(64), TinyCSP(128), TinyCSP(256)
        self.conv3 = CBL(512, 512, 3)
        self.p5 = CBL(512, 256, 1)
        self.head5 = nn.Sequential(CBL(256, 512, 3), nn.Conv2d(512, out, 1))
        self.up = nn.Sequential(CBL(256, 128, 1), nn.Upsample(scale_factor=2, mode="nearest"))
        self.head4 = nn.Sequential(CBL(384, 256, 3), nn.Conv2d(256, out, 1))

    def forward(self, x):
        x, _ = self.b1(self.stem(x))
        x, _ = self.b2(x)
        x, feat1 = self.b3(x)
        p5 = self.p5(self.conv3(x))
        return self.head5(p5), self.head4(torch.cat([self.up(p5), feat1], 1))


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(int(args.get("threads", 1)))
    torch.manual_seed(0)
    B, S, C = args["batch"], args["size"], args["classes"]
    targets = [torch.tensor(np.array(rows, dtype=np.float32).reshape(-1, 5)) for rows in args["targets"]]
    images = torch.rand(B, 3, S, S)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for focal in (False, True, None):  # None: the network alone, with a trivial loss (no YOLO loss)
        cfg = {"anchors": [[10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319]],
               "anchors_mask": [[3, 4, 5], [1, 2, 3]], "num_classes": C, "input_shape": [S, S],
               "focal_loss": bool(focal), "focal_alpha": 0.25, "focal_gamma": 2}
        loss_fn = Loss(cfg)
        model = YoloV4Tiny(C).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.937, nesterov=True)
        times, value = [], None
        for it in range(args["repeats"] + 1):
            t0 = time.perf_counter()
            opt.zero_grad()
            outs = model(images)
            if focal is None:
                total = sum(o.pow(2).mean() for o in outs)
            else:
                total = sum(loss_fn(l, o, targets) for l, o in enumerate(outs))
            total.backward()
            opt.step()
            if it > 0:  # the first step warms up
                times.append((time.perf_counter() - t0) * 1000)
            value = float(total)
        times.sort()
        result["network" if focal is None else "focal" if focal else "bce"] = {"median_ms": times[len(times) // 2], "min_ms": times[0], "loss": value}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
