#!/usr/bin/python3
"""The engine benchmark's cases in PyTorch (the peer), for bench/engine.bench.ts.

    /usr/bin/python3 bench/pytorch-peer.py MODEL STEP BATCH ITERS THREADS [DEVICE]

MODEL: resnet18 (torchvision, 1000 classes, 3x224x224) or convnet-3 (ConvNet-D as distill's zoo
builds it: 3 x [conv 3x3 width 128 + bias, BatchNorm, ReLU, avg-pool 2], linear; 1x28x28, 10
classes). STEP, as in bench/engine-cases.ts:
  forward        eval mode, no autograd
  forward-train  train mode (BN on batch statistics, running statistics updated), no autograd
  recover        SRe2L recover step: frozen eval-mode teacher, forward hooks on every BN layer
                 (input mean and biased variance), CE + 0.01 * sum m_l (||mu - mu_run|| +
                 ||var - var_run||) with m_1 = 10, backward to the images, Adam (0.5, 0.9),
                 clamp to [-3, 3] (distill's step also applies an identity crop as two matmuls)
  squeeze        train mode, CE, backward to the weights, SGD (lr 0.01, momentum 0.9, wd 5e-4)
Runs one warm-up step, then ITERS timed steps, on THREADS threads (torch.set_num_threads), and
prints one JSON line: median ms per step, peak RSS of this process (getrusage), versions.
DEVICE cuda (`npm run gpu:check`, scripts/gpu-check.ts): model and inputs on the GPU, two warm-up
steps, each step synchronised; the line adds torch's own peak GPU allocation and the GPU's name.
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def convnet(depth=3, width=128, channels=1, classes=10, size=28):
    layers, c, s = [], channels, size
    for _ in range(depth):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.AvgPool2d(2)]
        c, s = width, s // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * s * s, classes))


CASES = {
    "resnet18": (lambda: torchvision.models.resnet18(num_classes=1000), 3, 224, 1000),
    "convnet-3": (convnet, 1, 28, 10),
}


def main(model_name, step, batch, iters, threads, device="cpu"):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    make, channels, size, classes = CASES[model_name]
    model = make().to(dev)
    # the same deterministic input as bench/engine-cases.ts (sin(i * 0.37))
    x = torch.sin(torch.arange(batch * channels * size * size, dtype=torch.float64) * 0.37).float().view(batch, channels, size, size).to(dev)
    targets = (torch.arange(batch) % classes).to(dev)

    if step == "forward":
        model.eval()

        def body():
            with torch.no_grad():
                model(x)
    elif step == "forward-train":
        model.train()

        def body():
            with torch.no_grad():
                model(x)
    elif step == "squeeze":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def body():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), targets).backward()
            opt.step()
    elif step == "recover":
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        images = x.clone().requires_grad_(True)
        opt = torch.optim.Adam([images], lr=0.1, betas=(0.5, 0.9), eps=1e-8)
        stats = []

        def hook(module, inputs, _output):
            inp = inputs[0]
            nch = inp.shape[1]
            mean = inp.mean([0, 2, 3])
            var = inp.permute(1, 0, 2, 3).contiguous().view([nch, -1]).var(1, unbiased=False)
            stats.append(torch.norm(module.running_var - var, 2) + torch.norm(module.running_mean - mean, 2))

        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.register_forward_hook(hook)

        def body():
            stats.clear()
            opt.zero_grad(set_to_none=True)
            logits = model(images)
            bn = sum((10.0 if i == 0 else 1.0) * s for i, s in enumerate(stats))
            (F.cross_entropy(logits, targets) + 0.01 * bn).backward()
            opt.step()
            with torch.no_grad():
                images.clamp_(-3, 3)
    else:
        raise SystemExit(f"unknown step {step!r}")

    def synchronise():
        if cuda:
            torch.cuda.synchronize()

    for _ in range(2 if cuda else 1):  # warm-up
        body()
    synchronise()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        body()
        synchronise()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(json.dumps({
        "model": model_name, "step": step, "batch": batch, "ms": times[len(times) // 2],
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        **({"torchPeakMiB": torch.cuda.max_memory_allocated() / 2**20, "gpu": torch.cuda.get_device_name(0)} if cuda else {}),
    }))


if __name__ == "__main__":
    if len(sys.argv) not in (6, 7):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:])
