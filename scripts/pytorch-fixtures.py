#!/usr/bin/python3
"""PyTorch reference fixtures for tests/engine/pytorch-reference.test.ts (and the export tests).

Run with Debian's Python (apt-get install python3-torch python3-torchvision):

    /usr/bin/python3 scripts/pytorch-fixtures.py resnet OUT_DIR
        For each case (ResNet-18, 10 classes at 32 px with the small-image stem; ResNet-18,
        1000 classes at 224 px, torchvision's own layout) writes OUT_DIR/<case>/:
          model.onnx   exported by PyTorch with BatchNorm kept (TrainingMode.PRESERVE, no
                       constant folding, opset 17, dynamic batch)
          arrays.bin   float32 little-endian arrays, concatenated; where each one lies is in
          meta.json    shapes/offsets, targets, scalars, settings, torch version
        The tests regenerate this folder when it is missing; nothing here is committed.

    /usr/bin/python3 scripts/pytorch-fixtures.py replay CASE MODE FLIPS.json OUT_DIR
        The float64 reference of one mode (recover or squeeze) of a case with some float32-
        undecidable ReLU/max-pool branches taken the other way (what the tests ask for when
        their own float32 run decided such a branch unlike float64; see meta.json "branches").

    /usr/bin/python3 scripts/pytorch-fixtures.py tiny-cnn plain|preserve|preserve-fixed-batch FILE.onnx
        A tiny BatchNorm CNN (1x8x8 input, 10 classes) exported the plain way
        (torch.onnx.export(model.eval(), ...): the exporter folds BN into the convolutions),
        the way distill needs (BN kept, dynamic batch), or with BN kept but the batch fixed.

Every model is randomly initialised with a fixed seed (no pretrained weights are reachable
offline); BN affine parameters are drawn at random and the running statistics are the exact
averages over a few random batches, so neither is at its trivial initial value.

What is computed, as the stages of distill compute it, in float64 (the reference: a float32
ReLU network has pre-activations within rounding of 0, and one flipped ReLU changes a weight
gradient by ~1e-2 relative; PyTorch float32's distance from float64 is recorded in meta.json):
  eval     logits of the model in eval mode.
  recover  SRe2L's recover objective on the (eval-mode) teacher: forward hooks on every
           BatchNorm2d take the per-channel mean and biased variance (unbiased=False) of the
           layer's *input* over batch and space;
             bn   = sum_l m_l * (||var_l - running_var_l||_2 + ||mean_l - running_mean_l||_2),
                    m_1 = first_bn_multiplier, m_l = 1 otherwise (module order = graph order);
             ce   = cross-entropy(logits, targets) (mean over the batch);
             loss = ce + r_bn * bn;
           and the gradients of loss, ce and bn w.r.t. the input images.
  squeeze  the training step: train-mode BN (batch statistics), plain cross-entropy (no label
           smoothing, as distill's squeeze), weight gradients, the BN running statistics after
           the forward (momentum 0.1, unbiased batch variance), and the step one SGD update takes
           (lr, momentum 0.9, weight decay 5e-4: PyTorch's first step is -lr * (g + wd * w)).
"""
import copy
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

OPSET = 17
R_BN = 0.01
FIRST_BN_MULTIPLIER = 10.0
SGD = {"lr": 1.0, "momentum": 0.9, "weight_decay": 5e-4}

CASES = [
    # name, classes, size, batch, stem, seed
    ("resnet18-c10-32px", 10, 32, 4, "small", 1),
    ("resnet18-c1000-224px", 1000, 224, 2, "imagenet", 2),
]


def resnet18(classes, stem):
    m = torchvision.models.resnet18(num_classes=classes)
    if stem == "small":
        # SRe2L's CIFAR variant (and distill's zoo below 128 px): 3x3/1 stem, no max-pool.
        m.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    return m


def nontrivial_bn(model, size, batches, batch, channels=3):
    """Random BN affine parameters; running statistics = exact averages over random batches."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.momentum = None  # cumulative moving average
            bn.reset_running_stats()
        model.train()
        for _ in range(batches):
            model(torch.randn(batch, channels, size, size) * 1.3 + 0.2)
    for bn in bns:
        bn.momentum = 0.1
        bn.num_batches_tracked.zero_()


class Arrays:
    def __init__(self):
        self.chunks, self.index, self.offset = [], {}, 0

    def add(self, name, t):
        a = t.detach().to(torch.float32).contiguous().numpy()
        self.index[name] = {"shape": list(a.shape), "offset": self.offset}
        self.offset += a.size
        self.chunks.append(a.astype("<f4").tobytes())

    def write(self, path):
        with open(path, "wb") as f:
            for c in self.chunks:
                f.write(c)


def export(model, x, path):
    torch.onnx.export(
        model, x, path,
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, opset_version=OPSET,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )


def recover_objective(model, x, targets):
    """SRe2L recover loss with forward hooks on the BN layers (model in eval mode)."""
    stats = []

    def hook(module, inputs, _output):
        inp = inputs[0]
        nch = inp.shape[1]
        mean = inp.mean([0, 2, 3])
        var = inp.permute(1, 0, 2, 3).contiguous().view([nch, -1]).var(1, unbiased=False)
        stats.append(torch.norm(module.running_var.data - var, 2) + torch.norm(module.running_mean.data - mean, 2))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    ce = F.cross_entropy(logits, targets)
    bn = sum((FIRST_BN_MULTIPLIER if i == 0 else 1.0) * s for i, s in enumerate(stats))
    return logits, ce, bn, ce + R_BN * bn, len(stats)


class Tape:
    """Shared by the ReLUs and the max-pool of one model copy: what each call saw, in call order
    (a BasicBlock calls its ReLU module twice), and optionally, per call index, a mask of sites
    whose branch is inverted."""

    def __init__(self, plan=None):
        self.seen = []
        self.plan = plan or {}

    def next_flip(self):
        return self.plan.get(len(self.seen))


class KinkReLU(nn.Module):
    """ReLU as x * mask: the same values and gradient as nn.ReLU (ReLU'(0) = 0)."""

    def __init__(self, tape):
        super().__init__()
        self.tape = tape

    def forward(self, x):
        flip = self.tape.next_flip()
        self.tape.seen.append(("relu", x.detach()))
        mask = x > 0
        if flip is not None:
            mask = mask ^ flip
        return x * mask


class KinkMaxPool(nn.Module):
    """3x3/2 max-pool with padding 1 as a gather: the gradient goes to each window's largest
    value, or to its second largest where the flip mask says so."""

    def __init__(self, tape):
        super().__init__()
        self.tape = tape

    def forward(self, x):
        flip = self.tape.next_flip()
        n, c, h, w = x.shape
        oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        padded = F.pad(x.detach(), (1, 1, 1, 1), value=float("-inf"))
        cols = F.unfold(padded.reshape(n * c, 1, h + 2, w + 2), 3, stride=2).view(n, c, 9, oh * ow)
        top = cols.topk(2, dim=2)
        self.tape.seen.append(("pool", top.values))  # [n, c, 2, oh*ow]
        k = top.indices[:, :, 0]
        if flip is not None:
            k = torch.where(flip, top.indices[:, :, 1], k)
        oy = torch.arange(oh).repeat_interleave(ow)
        ox = torch.arange(ow).repeat(oh)
        idx = (oy * 2 - 1 + k // 3) * w + (ox * 2 - 1 + k % 3)
        return x.reshape(n, c, -1).gather(2, idx).view(n, c, oh, ow)


def kinked(model, dtype, plan=None):
    """A copy of the model in `dtype` whose ReLUs and max-pool record their inputs on a tape."""
    m = copy.deepcopy(model).to(dtype)
    tape = Tape(plan)
    for parent in list(m.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, KinkReLU(tape))
            elif isinstance(child, nn.MaxPool2d):
                assert (child.kernel_size, child.stride, child.padding) == (3, 2, 1)
                setattr(parent, name, KinkMaxPool(tape))
    return m, tape


def recover_quantities(model, x, targets):
    """Eval-mode logits, the recover objective and its gradients w.r.t. the images."""
    model.eval()
    xr = x.clone().requires_grad_(True)
    logits, ce, bn, loss, n_bn = recover_objective(model, xr, targets)
    out = {"eval.logits": logits.detach()}
    out["recover.grad_ce"], = torch.autograd.grad(ce, xr, retain_graph=True)
    out["recover.grad_bn"], = torch.autograd.grad(bn, xr, retain_graph=True)
    out["recover.grad_loss"], = torch.autograd.grad(loss, xr)
    return out, {"recover.loss": loss.item(), "recover.ce": ce.item(), "recover.bn": bn.item()}, n_bn


def squeeze_quantities(model, x, targets):
    """One training step (train-mode BN, whose running statistics the forward updates)."""
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, targets)
    model.zero_grad()
    loss.backward()
    out = {"squeeze.logits": logits.detach()}
    params = dict(model.named_parameters())
    for n, p in params.items():
        out[f"squeeze.grad.{n}"] = p.grad.clone()
    for n, buf in model.named_buffers():
        if n.endswith("running_mean") or n.endswith("running_var"):
            out[f"squeeze.buffer.{n}"] = buf.clone()
    before = {n: p.detach().clone() for n, p in params.items()}
    torch.optim.SGD(model.parameters(), **SGD).step()
    for n, p in params.items():
        out[f"sgd.step.{n}"] = p.detach() - before[n]
    return out, {"squeeze.loss": loss.item()}, list(params)


MODES = {"recover": recover_quantities, "squeeze": squeeze_quantities}


def run(model, mode, x, targets, dtype, plan=None):
    m, tape = kinked(model, dtype, plan)
    return MODES[mode](m, x.to(dtype), targets), tape.seen


KINK_FACTOR = 20.0


def rel_error(a, b):
    """max |a - b| / max |b| (the tests' measure)."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def undecidable(seen64, seen32):
    """The branch sites float32 cannot be trusted to decide as float64 does: per ReLU/max-pool
    call, where |pre-activation| (ReLU) or the gap between a window's two largest values
    (max-pool) is below KINK_FACTOR times the RMS difference between PyTorch's float32 and
    float64 values at that call. Listed with float64's decision, so that a test can see which
    branches its own float32 run took differently and ask `replay` for the reference with those."""
    calls = []
    for i, ((kind, a64), (_, a32)) in enumerate(zip(seen64, seen32)):
        a64, a32 = a64.double(), a32.double()
        finite = torch.isfinite(a64)
        err = (a32 - a64)[finite].pow(2).mean().sqrt().item()
        if kind == "relu":
            mask = a64.abs() < KINK_FACTOR * err
            sites = mask.flatten().nonzero().flatten()
            calls.append({"call": i, "kind": kind, "shape": list(a64.shape), "sites": sites.tolist(),
                          "positive": (a64.flatten()[sites] > 0).tolist(), "values": a64.flatten()[sites].tolist(), "rmsError32": err})
        else:
            mask = (a64[:, :, 0] - a64[:, :, 1] < KINK_FACTOR * err) & (a64[:, :, 0] > 0)
            calls.append({"call": i, "kind": kind, "shape": list(mask.shape), "sites": mask.flatten().nonzero().flatten().tolist(), "rmsError32": err})
    return [c for c in calls if c["sites"]]


def pool_winners(model, mode, x, targets, calls):
    """For max-pool sites: the flat input index (N·C·H·W order) of each window's largest and
    second largest value in float64."""
    m, tape = kinked(model, torch.float64)
    winners = {}
    hooks = []
    for mod in m.modules():
        if isinstance(mod, KinkMaxPool):
            def keep(mod_, inp, _out):
                xin = inp[0].detach()
                n, c, h, w = xin.shape
                oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
                padded = F.pad(xin, (1, 1, 1, 1), value=float("-inf"))
                cols = F.unfold(padded.reshape(n * c, 1, h + 2, w + 2), 3, stride=2).view(n, c, 9, oh * ow)
                k = cols.topk(2, dim=2).indices  # [n, c, 2, L]
                oy = torch.arange(oh).repeat_interleave(ow)
                ox = torch.arange(ow).repeat(oh)
                base = (torch.arange(n).view(n, 1, 1, 1) * c + torch.arange(c).view(1, c, 1, 1)) * h * w
                winners[len(tape.seen) - 1] = base + (oy * 2 - 1 + k // 3) * w + (ox * 2 - 1 + k % 3)
            hooks.append(mod.register_forward_hook(keep))
    MODES[mode](m, x.double(), targets)
    for c in calls:
        if c["kind"] == "pool":
            idx = winners[c["call"]]  # [n, ch, 2, L]
            flat = idx.permute(0, 1, 3, 2).reshape(-1, 2)  # window order n, c, L
            c["top"] = [flat[s].tolist() for s in c["sites"]]
    return calls


def mode_reference(model, mode, x, targets):
    """float64 values, float32 PyTorch's distance from them, and the float32-undecidable sites."""
    (ref, scalars, extra), seen64 = run(model, mode, x, targets, torch.float64)
    (f32, scalars32, _), seen32 = run(model, mode, x, targets, torch.float32)
    torch32 = {k: rel_error(f32[k], v) for k, v in ref.items()}
    torch32.update({k: abs(scalars32[k] - v) / abs(v) for k, v in scalars.items()})
    sites = pool_winners(model, mode, x, targets, undecidable(seen64, seen32))
    return ref, scalars, extra, torch32, {"calls": len(seen64), "undecidable": sites}


def build_case(name):
    """The model, inputs and targets of a case, rebuilt the same way every time (fixed seeds)."""
    _, classes, size, batch, stem, seed = next(c for c in CASES if c[0] == name)
    torch.manual_seed(seed)
    model = resnet18(classes, stem)
    nontrivial_bn(model, size, batches=3, batch=8 if size <= 64 else 4)
    model.eval()
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(batch, 3, size, size, generator=g)
    targets = torch.randint(0, classes, (batch,), generator=g)
    return model, x, targets


def make_case(out_dir, name, classes, size, batch, stem, seed):
    model, x, targets = build_case(name)
    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    export(model, x, os.path.join(case_dir, "model.onnx"))

    arr = Arrays()
    arr.add("x", x)
    meta = {
        "case": name, "classes": classes, "size": size, "batch": batch, "stem": stem, "seed": seed,
        "opset": OPSET, "rBn": R_BN, "firstBnMultiplier": FIRST_BN_MULTIPLIER, "sgd": SGD,
        "targets": targets.tolist(), "scalars": {}, "reference": "float64", "kinkFactor": KINK_FACTOR,
        "torch32Error": {}, "branches": {},
    }
    for mode in MODES:
        ref, scalars, extra, torch32, sites = mode_reference(model, mode, x, targets)
        for k, v in ref.items():
            arr.add(k, v)
        meta["scalars"].update(scalars)
        meta["torch32Error"].update(torch32)
        meta["branches"][mode] = sites
        if mode == "recover":
            meta["bnLayers"] = extra
        else:
            meta["params"] = extra
    arr.write(os.path.join(case_dir, "arrays.bin"))
    meta.update({"arrays": arr.index, "torch": torch.__version__, "torchvision": torchvision.__version__, "threads": torch.get_num_threads()})
    with open(os.path.join(case_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


def replay(name, mode, flips_file, out_dir):
    """The float64 reference of one mode with the listed branches taken the other way:
    flips_file is JSON {"<call index>": [site, ...]} (sites as in meta.json: branches.<mode>.undecidable)."""
    model, x, targets = build_case(name)
    (_, _, _), seen = run(model, mode, x, targets, torch.float64)
    plan = {}
    for call, sites in json.load(open(flips_file)).items():
        kind, a = seen[int(call)]
        shape = a.shape if kind == "relu" else (a.shape[0], a.shape[1], a.shape[3])
        mask = torch.zeros(shape, dtype=torch.bool).flatten()
        mask[torch.tensor(sites, dtype=torch.long)] = True
        plan[int(call)] = mask.view(shape)
    (ref, scalars, _), _ = run(model, mode, x, targets, torch.float64, plan)
    os.makedirs(out_dir, exist_ok=True)
    arr = Arrays()
    for k, v in ref.items():
        arr.add(k, v)
    arr.write(os.path.join(out_dir, "arrays.bin"))
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump({"case": name, "mode": mode, "flips": json.load(open(flips_file)), "scalars": scalars, "arrays": arr.index}, f, indent=1)


def tiny_cnn(mode, path):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(8, 10),
    )
    nontrivial_bn(model, 8, batches=3, batch=16, channels=1)
    x = torch.randn(2, 1, 8, 8)
    if mode == "plain":
        torch.onnx.export(model.eval(), x, path)
    elif mode == "preserve":
        export(model.eval(), x, path)
    elif mode == "preserve-fixed-batch":
        torch.onnx.export(model.eval(), x, path, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, opset_version=OPSET)
    else:
        raise SystemExit(f"tiny-cnn: mode must be plain, preserve or preserve-fixed-batch, not {mode!r}")


def main(argv):
    if len(argv) >= 2 and argv[0] == "resnet":
        out = argv[1]
        only = argv[2:]
        os.makedirs(out, exist_ok=True)
        for c in CASES:
            if not only or c[0] in only:
                make_case(out, *c)
                print(f"wrote {os.path.join(out, c[0])}", file=sys.stderr)
    elif len(argv) == 5 and argv[0] == "replay":
        replay(*argv[1:])
    elif len(argv) == 3 and argv[0] == "tiny-cnn":
        tiny_cnn(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
