"""PyTorch's side of `npm run gpu:check` (scripts/gpu-check.ts): the same ResNet-18 step on CUDA.

    python3 scripts/gpu-check-torch.py recover|squeeze BATCH STEPS

torchvision ResNet-18, 1000 classes, 3x224x224, random weights. recover: eval-mode teacher, BN
forward hooks (input mean and biased variance), CE + 0.01 * sum m_l (||mu - mu_run|| + ||var -
var_run||), m_1 = 10, backward to the images, Adam (0.5, 0.9), clamp; squeeze: train mode, CE,
SGD (momentum 0.9, wd 5e-4). As bench/pytorch-peer.py does on the CPU. Two warm-up steps, then
STEPS timed ones (synchronised); prints one JSON line: median ms, torch's own peak allocation.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def main(step, batch, steps):
    dev = torch.device("cuda")
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=1000).to(dev)
    x = torch.sin(torch.arange(batch * 3 * 224 * 224, dtype=torch.float64) * 0.37).float().view(batch, 3, 224, 224).to(dev)
    targets = (torch.arange(batch) % 1000).to(dev)
    if step == "squeeze":
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
            mean = inp.mean([0, 2, 3])
            var = inp.var([0, 2, 3], unbiased=False)
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
    for _ in range(2):
        body()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        body()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(json.dumps({"ms": times[len(times) // 2], "torchPeakMiB": torch.cuda.max_memory_allocated() / 2**20,
                      "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
