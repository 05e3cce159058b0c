"""PyTorch reference for distill's ViT and BN-ViT (gpu-cluster/models/vit.ts), in float64.

    /usr/bin/python3 scripts/pytorch-vit.py DIR

DIR holds what tests/engine/vit-reference.test.ts wrote: config.json (arch, sizes, the names,
shapes and offsets of every parameter and buffer in params.bin, the input x in x.bin, targets)
and params.bin / x.bin (float32, little-endian). The model below is timm's VisionTransformer
(DeiT layout: class token, pre-norm blocks, exact GELU, qkv in one Linear) written out, with
timm's parameter names; BN-ViT swaps every LayerNorm for a BatchNorm over the token features
and adds one after the MLP's activation (timm's `mlp.norm`). Weights are loaded by name with
strict=True, so a name or shape that differs from ours fails here.

Writes DIR/result.json: recover (eval mode: logits, CE, the BN-statistics term with mean and variance over
batch and tokens, the loss, its gradient w.r.t. x) and squeeze (train mode: CE, every weight's
gradient, the updated BN running statistics, PyTorch's unbiased variance).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the features of tokens [N, T, D] (statistics over N and T)."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def norm_layer(kind, dim):
    return TokenBatchNorm(dim) if kind == "batch" else nn.LayerNorm(dim, eps=1e-6)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, c = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, dim, kind):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.norm = norm_layer("batch", 4 * dim) if kind == "batch" else nn.Identity()
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(self.norm(self.act(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, dim, heads, kind):
        super().__init__()
        self.norm1 = norm_layer(kind, dim)
        self.attn = Attention(dim, heads)
        self.norm2 = norm_layer(kind, dim)
        self.mlp = Mlp(dim, kind)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, size, patch, channels, dim, depth, heads, classes, kind):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(channels, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, kind) for _ in range(depth)])
        self.norm = norm_layer(kind, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def read(path, shape, offset=0):
    n = 1
    for d in shape:
        n *= d
    with open(path, "rb") as f:
        f.seek(offset * 4)
        data = f.read(n * 4)
    return torch.frombuffer(bytearray(data), dtype=torch.float32).to(torch.float64).reshape(shape)


def main(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    model = VisionTransformer(cfg["size"], cfg["patch"], cfg["channels"], cfg["width"], cfg["depth"],
                              cfg["heads"], cfg["classes"], cfg["norm"])
    state = {name: read(os.path.join(folder, "params.bin"), p["shape"], p["offset"])
             for name, p in cfg["params"].items()}
    state.update({n: torch.tensor(0) for n, v in model.state_dict().items() if n.endswith("num_batches_tracked")})
    model.load_state_dict(state, strict=True)
    x = read(os.path.join(folder, "x.bin"), cfg["x_shape"]).requires_grad_(True)
    targets = torch.tensor(cfg["targets"])

    # Recover: eval mode, BN-statistics hooks on every BatchNorm (over batch and tokens).
    model.eval()
    stats = []

    def hook(module, inputs, _output):
        inp = inputs[0]  # [N, T, D]: the token features are the channels
        mean = inp.mean([0, 1])
        var = inp.var([0, 1], unbiased=False)
        stats.append(torch.norm(module.running_var - var, 2) + torch.norm(module.running_mean - mean, 2))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, TokenBatchNorm)]
    logits = model(x)
    for h in handles:
        h.remove()
    ce = F.cross_entropy(logits, targets)
    bn = sum((cfg["first_bn_multiplier"] if i == 0 else 1.0) * s for i, s in enumerate(stats)) if stats else torch.tensor(0.0)
    loss = ce + cfg["r_bn"] * bn
    (gx,) = torch.autograd.grad(loss, [x])

    # Squeeze: train mode, CE, gradients of every weight, running statistics after the step.
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.momentum = cfg["bn_momentum"]
    sq_ce = F.cross_entropy(model(x.detach()), targets)
    names = [n for n, _ in model.named_parameters()]
    grads = torch.autograd.grad(sq_ce, [p for _, p in model.named_parameters()])
    buffers = {n: b.flatten().tolist() for n, b in model.named_buffers() if "running" in n}

    flat = lambda t: t.detach().flatten().tolist()
    result = {
        "torch": torch.__version__,
        "recover": {"logits": flat(logits), "ce": ce.item(), "bn": float(bn), "loss": loss.item(),
                    "bn_layers": len(stats), "grad_x": flat(gx)},
        "squeeze": {"ce": sq_ce.item(), "grads": {n: flat(g) for n, g in zip(names, grads)}, "buffers": buffers},
    }
    with open(os.path.join(folder, "result.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
