"""The YOLOv4 loss of reference-spec section 2, in PyTorch, written from the spec in the reference's
style (NCHW head outputs, Python loops over images and ground truths, probability-space BCE), to time
it beside YoloLoss. Measuring stick only.

argv[1]: JSON {"dir": folder with raw_<l>.bin (float32 NHWC) and case.json, "repeats": n, "warmup": w (default 1), "threads": t}
last stdout line: JSON {"bce": {...}, "focal": {...}} with times in ms and the loss values.
"""
import json
import math
import sys
import time

import numpy as np
import torch

EPS = 1e-7


def bce(p, t):
    p = torch.clamp(p, EPS, 1.0 - EPS)
    return -t * torch.log(p) - (1.0 - t) * torch.log(1.0 - p)


def corner_iou(a, b):
    """Plain IoU (no epsilon) between every row of a [n,4] and b [m,4], both cx,cy,w,h."""
    a1, a2 = a[:, :2] - a[:, 2:4] / 2, a[:, :2] + a[:, 2:4] / 2
    b1, b2 = b[:, :2] - b[:, 2:4] / 2, b[:, :2] + b[:, 2:4] / 2
    lo = torch.max(a1[:, None, :], b1[None, :, :])
    hi = torch.min(a2[:, None, :], b2[None, :, :])
    inter = torch.clamp(hi - lo, min=0).prod(-1)
    area_a = (a[:, 2] * a[:, 3])[:, None]
    area_b = (b[:, 2] * b[:, 3])[None, :]
    return inter / (area_a + area_b - inter)


def ciou(b1, b2):
    m1, x1 = b1[..., :2] - b1[..., 2:4] / 2, b1[..., :2] + b1[..., 2:4] / 2
    m2, x2 = b2[..., :2] - b2[..., 2:4] / 2, b2[..., :2] + b2[..., 2:4] / 2
    inter_wh = torch.clamp(torch.min(x1, x2) - torch.max(m1, m2), min=0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = b1[..., 2] * b1[..., 3] + b2[..., 2] * b2[..., 3] - inter
    iou = inter / torch.clamp(union, min=1e-6)
    rho2 = ((b1[..., :2] - b2[..., :2]) ** 2).sum(-1)
    enc = torch.clamp(torch.max(x1, x2) - torch.min(m1, m2), min=0)
    c2 = (enc ** 2).sum(-1)
    diou = iou - rho2 / torch.clamp(c2, min=1e-6)
    v = (4 / math.pi ** 2) * (torch.atan(b1[..., 2] / torch.clamp(b1[..., 3], min=1e-6))
                              - torch.atan(b2[..., 2] / torch.clamp(b2[..., 3], min=1e-6))) ** 2
    alpha = v / torch.clamp(1.0 - iou + v, min=1e-6)
    return diou - alpha * v


class Loss:
    def __init__(self, cfg):
        self.anchors = cfg["anchors"]
        self.mask = cfg["anchors_mask"]
        self.C = cfg["num_classes"]
        self.input_shape = cfg["input_shape"]
        self.focal = cfg["focal_loss"]
        self.alpha = cfg["focal_alpha"]
        self.gamma = cfg["focal_gamma"]
        self.balance = [0.4, 1.0, 4]
        self.obj_ratio = 5 * (self.input_shape[0] * self.input_shape[1]) / 416 ** 2
        self.cls_ratio = self.C / 80

    def __call__(self, l, out, targets):
        B, _, H, W = out.shape
        A = len(self.mask[l])
        sh, sw = self.input_shape[0] / H, self.input_shape[1] / W
        scaled = [(aw / sw, ah / sh) for aw, ah in self.anchors]
        pred = out.view(B, A, 5 + self.C, H, W).permute(0, 1, 3, 4, 2).contiguous()
        x, y = torch.sigmoid(pred[..., 0]), torch.sigmoid(pred[..., 1])
        w, h = pred[..., 2], pred[..., 3]
        conf, cls = torch.sigmoid(pred[..., 4]), torch.sigmoid(pred[..., 5:])

        # positives: best of all anchors by shape IoU, loops over images and boxes
        y_true = torch.zeros(B, A, H, W, 5 + self.C)
        noobj = torch.ones(B, A, H, W)
        anchor_shapes = torch.cat([torch.zeros(len(scaled), 2), torch.tensor(scaled, dtype=torch.float32)], 1)
        for b in range(B):
            if len(targets[b]) == 0:
                continue
            t = torch.zeros_like(targets[b])
            t[:, [0, 2]] = targets[b][:, [0, 2]] * W
            t[:, [1, 3]] = targets[b][:, [1, 3]] * H
            t[:, 4] = targets[b][:, 4]
            shapes = torch.cat([torch.zeros(len(t), 2), t[:, 2:4]], 1)
            best = torch.argmax(corner_iou(shapes, anchor_shapes), dim=-1)
            for g, n in enumerate(best):
                if int(n) not in self.mask[l]:
                    continue
                k = self.mask[l].index(int(n))
                i, j, c = int(torch.floor(t[g, 0])), int(torch.floor(t[g, 1])), int(t[g, 4])
                noobj[b, k, j, i] = 0
                y_true[b, k, j, i, 0:4] = t[g, 0:4]
                y_true[b, k, j, i, 4] = 1
                y_true[b, k, j, i, 5 + c] = 1

        # decoded predictions and the ignore mask, per image
        gx = torch.arange(W, dtype=torch.float32).view(1, 1, 1, W).expand(B, A, H, W)
        gy = torch.arange(H, dtype=torch.float32).view(1, 1, H, 1).expand(B, A, H, W)
        aw = torch.tensor([scaled[a][0] for a in self.mask[l]]).view(1, A, 1, 1)
        ah = torch.tensor([scaled[a][1] for a in self.mask[l]]).view(1, A, 1, 1)
        boxes = torch.stack([x + gx, y + gy, torch.exp(w) * aw, torch.exp(h) * ah], -1)
        for b in range(B):
            if len(targets[b]) == 0:
                continue
            t = torch.zeros(len(targets[b]), 4)
            t[:, [0, 2]] = targets[b][:, [0, 2]] * W
            t[:, [1, 3]] = targets[b][:, [1, 3]] * H
            best, _ = torch.max(corner_iou(t, boxes[b].detach().view(-1, 4)), dim=0)
            noobj[b][best.view(A, H, W) > 0.5] = 0

        loss = 0
        obj = y_true[..., 4] == 1
        if obj.sum() != 0:
            iou = ciou(boxes, y_true[..., :4])
            obj = obj & ~torch.isnan(iou)
            loss = loss + 0.05 * torch.mean((1 - iou)[obj]) + self.cls_ratio * torch.mean(bce(cls[obj], y_true[..., 5:][obj]))
        keep = noobj.bool() | obj
        target = obj.type_as(conf)
        if self.focal:
            w_pn = torch.where(obj, torch.full_like(conf, self.alpha), torch.full_like(conf, 1 - self.alpha))
            mod = torch.where(obj, 1 - conf, conf) ** self.gamma
            loss_conf = 10 * torch.mean((bce(conf, target) * w_pn * mod)[keep])
        else:
            loss_conf = torch.mean(bce(conf, target)[keep])
        return loss + loss_conf * self.balance[l] * self.obj_ratio


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(int(args.get("threads", 1)))
    folder = args["dir"]
    with open(f"{folder}/case.json") as f:
        case = json.load(f)
    cfg = case["config"]
    targets = [torch.tensor(np.array(rows, dtype=np.float32).reshape(-1, 5)) for rows in case["targets"]]
    raws = []
    for l, (h, w) in enumerate(case["grids"]):
        nhwc = np.fromfile(f"{folder}/raw_{l}.bin", dtype=np.float32).reshape(cfg["batch"], h, w, -1)
        raws.append(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for focal in (False, True):
        cfg["focal_loss"] = focal
        fn = Loss(cfg)
        times, cpu_times, value = [], [], None
        warmup = args.get("warmup", 1)
        for it in range(args["repeats"] + warmup):
            inputs = [torch.tensor(r, requires_grad=True) for r in raws]
            t0, c0 = time.perf_counter(), time.process_time()
            total = sum(fn(l, x, targets) for l, x in enumerate(inputs))
            total.backward()
            elapsed, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            if it >= warmup:  # the first calls warm up
                times.append(elapsed)
                cpu_times.append(cpu)
            value = float(total)
        times.sort()
        cpu_times.sort()
        result["focal" if focal else "bce"] = {
            "median_ms": times[len(times) // 2], "min_ms": times[0],
            "cpu_median_ms": cpu_times[len(cpu_times) // 2], "loss": value,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
