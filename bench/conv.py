"""PyTorch side of `npm run bench -- conv`: forward convolution, grad-input and grad-weight GFLOP/s.

argv[1] is JSON {"shapes": [[n, h, w, ci, co, k, s], ...], "repeats": r}; the last stdout line is JSON.
Torch pads symmetrically (k // 2), which gives the same output size and FLOPs as TF 'same' here.
"""
import json
import os
import statistics
import sys
import time

import torch


def timed(fn, repeats):
    """Wall time, and CPU time of this process (all its threads), in ms."""
    fn()  # warm-up
    samples, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return {"medianMs": statistics.median(samples), "minMs": min(samples), "maxMs": max(samples), "repeats": repeats,
            "cpuMedianMs": statistics.median(cpu)}


def main():
    args = json.loads(sys.argv[1])
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    results = []
    with torch.no_grad():
        for n, h, w, ci, co, k, s in args["shapes"]:
            x = torch.randn(n, ci, h, w)
            weight = torch.randn(co, ci, k, k)
            pad = k // 2
            y = torch.nn.functional.conv2d(x, weight, stride=s, padding=pad)
            dy = torch.randn_like(y)

            def backward(mask):
                return torch.ops.aten.convolution_backward(
                    dy, x, weight, None, [s, s], [pad, pad], [1, 1], False, [0, 0], 1, mask)

            results.append({
                "shape": [n, h, w, ci, co, k, s],
                "forward": timed(lambda: torch.nn.functional.conv2d(x, weight, stride=s, padding=pad), args["repeats"]),
                "backpropInput": timed(lambda: backward([True, False, False]), args["repeats"]),
                "backpropFilter": timed(lambda: backward([False, True, False]), args["repeats"]),
            })
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
