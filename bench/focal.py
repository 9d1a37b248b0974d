"""PyTorch side of `npm run bench -- focal`: torchvision's sigmoid_focal_loss formula, forward + backward.

argv[1] is JSON {"sizes": [...], "repeats": n, "alpha": a, "gamma": g, "threads": t}; the last stdout
line is JSON {"torch": version, "threads": t, "results": [{"n": n, "medianMs": ..., "minMs": ..., "maxMs": ...}]}.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(inputs, targets, alpha, gamma):
    # torchvision.ops.sigmoid_focal_loss's formula (reduction "mean")
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss.mean()


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(int(args["threads"]))
    gen = torch.Generator().manual_seed(0)
    results = []
    for n in args["sizes"]:
        x = (torch.randn(n, generator=gen) * 4).requires_grad_(True)
        y = (torch.rand(n, generator=gen) < 0.1).float()
        samples = []
        for i in range(args["repeats"] + 1):
            x.grad = None
            t0 = time.perf_counter()
            loss = sigmoid_focal_loss(x, y, args["alpha"], args["gamma"])
            loss.backward()
            _ = x.grad[0].item()
            dt = (time.perf_counter() - t0) * 1000
            if i > 0:  # the first call warms up
                samples.append(dt)
        results.append({"n": n, "medianMs": statistics.median(samples), "minMs": min(samples), "maxMs": max(samples),
                        "loss": float(loss.item())})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
