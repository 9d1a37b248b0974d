"""PyTorch side of `npm run bench -- infer`: the same YOLOv4 / YOLOv4-tiny network, forward only.

argv[1] is JSON {"graphs": {variant: graph}, "size": s, "runs": n, "threads": t}, where each graph is
focal-yolo's network description (src/models/graph.ts: nodes in execution order, output nodes),
so the two sides run the same layers. Weights are random (speed does not depend on them); BatchNorm
in inference mode. The last stdout line is JSON {"torch": version, "threads": t,
"results": [{"variant": v, "medianMs": ..., "minMs": ..., "maxMs": ..., "outputs": [[B, C, H, W], ...]}]}.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Graph(nn.Module):
    """Runs a focal-yolo graph description with torch layers."""

    def __init__(self, graph):
        super().__init__()
        self.nodes = graph["nodes"]
        self.outputs = graph["outputs"]
        self.layers = nn.ModuleDict()
        for i, node in enumerate(self.nodes):
            if node["kind"] == "conv":
                k = node["kernel"]
                conv = nn.Conv2d(node["inChannels"], node["filters"], k, node["stride"], k // 2, bias=not node["batchNorm"])
                self.layers[str(i)] = nn.Sequential(conv, nn.BatchNorm2d(node["filters"])) if node["batchNorm"] else conv
            elif node["kind"] == "attention":
                raise ValueError("attention blocks are not benchmarked")

    def forward(self, x):
        values = []
        for i, node in enumerate(self.nodes):
            kind = node["kind"]
            if kind == "input":
                y = x
            elif kind == "conv":
                y = self.layers[str(i)](values[node["input"]])
                if node["activation"] == "mish":
                    y = y * torch.tanh(F.softplus(y))
                elif node["activation"] == "leaky":
                    y = F.leaky_relu(y, 0.1)
            elif kind == "add":
                y = values[node["inputs"][0]] + values[node["inputs"][1]]
            elif kind == "concat":
                y = torch.cat([values[j] for j in node["inputs"]], 1)
            elif kind == "maxpool":
                s = node["size"]
                pad = s // 2 if node["stride"] == 1 else 0
                y = F.max_pool2d(values[node["input"]], s, node["stride"], pad)
            elif kind == "upsample":
                y = F.interpolate(values[node["input"]], scale_factor=2, mode="nearest")
            elif kind == "sliceChannels":
                b = node["begin"]
                y = values[node["input"]][:, b:b + node["channels"]]
            else:
                raise ValueError(kind)
            values.append(y)
        return [values[i] for i in self.outputs]


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(int(args["threads"]))
    torch.manual_seed(0)
    size = int(args["size"])
    results = []
    for variant, graph in args["graphs"].items():
        model = Graph(graph).eval()
        x = torch.rand(1, 3, size, size)
        samples = []
        with torch.no_grad():
            outs = model(x)  # warm-up
            for _ in range(int(args["runs"])):
                t0 = time.perf_counter()
                model(x)
                samples.append((time.perf_counter() - t0) * 1000)
        results.append({
            "variant": variant,
            "medianMs": statistics.median(samples),
            "minMs": min(samples),
            "maxMs": max(samples),
            "repeats": len(samples),
            "outputs": [list(o.shape) for o in outs],
        })
    print(json.dumps({"torch": torch.__version__, "threads": int(args["threads"]), "results": results}))


if __name__ == "__main__":
    main()
