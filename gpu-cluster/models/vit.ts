// Vision Transformers in timm's layout and parameter names (patch_embed.proj, cls_token,
// pos_embed, blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head), so a
// timm/DeiT checkpoint exported to ONNX lines up with ours.
// - ViT-Tiny: DeiT-Tiny's shape (width 192, depth 12, 3 heads, MLP ×4, pre-norm LayerNorm,
//   class token, exact GELU); patch 16 at 224 px, patch 4 for small images (28–32 px: 49–64 tokens).
// - BN-ViT-Tiny (SRe2L §4, ViT with BatchNorm): every LayerNorm becomes a BatchNorm over the token
//   features, plus a BatchNorm in the MLP after the activation (timm's `mlp.norm`), so recover has
//   BN statistics to match. Tokens [N, T, D] are seen by BatchNorm as [N, D, T] (channels = token
//   features), so its statistics, and recover's, are taken over batch and tokens together.
// Tokens stay [N, T, D] throughout (never [N·T, D]): reshapes then keep the symbolic batch N.
import type { Value } from "../graph/types.ts";
import type { ModelBuilder } from "./layers.ts";
import { linearDefault, type Init } from "./init.ts";

export type TokenNorm = "layer" | "batch";

export interface ViTOptions {
  classes: number;
  /** Input side (square) and channels. */
  size: number;
  channels: number;
  norm: TokenNorm;
  /** Embedding width (192 for Tiny); smaller for tests. Heads: width/64 (DeiT's 64 per head), else 1. */
  width?: number;
  /** Transformer blocks (12 for Tiny); fewer for tests. */
  depth?: number;
  /** Attention heads (default from the width: see headsFor). */
  heads?: number;
  /** Patch side: 16 from 128 px up (224 px → 196 patches), else 4. */
  patch?: number;
}

/** timm's trunc_normal_(std=0.02) for weights and position embeddings, without the truncation (≥ 2σ is rare). */
const VIT_NORMAL: Init = { kind: "normal", std: 0.02 };
export const patchFor = (size: number): number => (size >= 128 ? 16 : 4);
export const headsFor = (width: number): number => (width % 64 === 0 ? width / 64 : 1);

const widthOf = (x: Value) => x.shape[x.shape.length - 1] as number;

/** A linear layer on tokens [N, T, in] (PyTorch's [out, in] weight; zero bias as timm). */
function tokenLinear(m: ModelBuilder, x: Value, name: string, out: number): Value {
  const { b } = m;
  const w = m.weight(`${name}.weight`, [out, widthOf(x)], VIT_NORMAL);
  const bias = m.weight(`${name}.bias`, [out], { kind: "zeros" });
  return b.scope(name, () => b.add(b.matmul(x, b.transpose(w, [1, 0])), bias));
}

function tokenNorm(m: ModelBuilder, x: Value, name: string, kind: TokenNorm): Value {
  if (kind === "batch") return tokenBatchNorm(m, x, name);
  const d = widthOf(x);
  const scale = m.weight(`${name}.weight`, [d], { kind: "ones" });
  const bias = m.weight(`${name}.bias`, [d], { kind: "zeros" });
  return m.b.op1("LayerNormalization", [x, scale, bias], { axis: -1, epsilon: 1e-6 }, name);
}

/** BatchNorm over the token features: [N, T, D] → [N, D, T] → BN → back. */
function tokenBatchNorm(m: ModelBuilder, x: Value, name: string): Value {
  const { b } = m;
  return b.transpose(m.batchNorm(b.transpose(x, [0, 2, 1]), name), [0, 2, 1]);
}

/** GELU, exact form: ½ x (1 + erf(x/√2)) (opset 18 has no Gelu operator). */
function gelu(m: ModelBuilder, x: Value): Value {
  const { b } = m;
  return b.scope("gelu", () => b.mul(b.scale(x, 0.5), b.add(b.scalar(1), b.op1("Erf", [b.scale(x, Math.SQRT1_2)]))));
}

/** Multi-head self-attention on tokens [N, T, D]: softmax(q kᵀ/√d_h) v per head, then proj. */
function attention(m: ModelBuilder, x: Value, name: string, heads: number): Value {
  const { b } = m;
  const d = widthOf(x),
    hd = d / heads;
  const qkv = tokenLinear(m, x, `${name}.qkv`, 3 * d); // features: q | k | v, each (head, hd)
  return b.scope(name, () => {
    const part = (i: number, perm: number[]) =>
      b.transpose(b.reshape(b.slice(qkv, [i * d], [(i + 1) * d], [2]), [0, 0, heads, hd]), perm);
    const q = b.scale(part(0, [0, 2, 1, 3]), 1 / Math.sqrt(hd)); // [N, H, T, hd]
    const kT = part(1, [0, 2, 3, 1]); // [N, H, hd, T]
    const v = part(2, [0, 2, 1, 3]);
    const attn = b.op1("Softmax", [b.matmul(q, kT)], { axis: -1 }); // [N, H, T, T]
    const out = b.reshape(b.transpose(b.matmul(attn, v), [0, 2, 1, 3]), [0, 0, d]);
    return tokenLinear(m, out, `${name}.proj`, d);
  });
}

function block(m: ModelBuilder, x: Value, name: string, heads: number, norm: TokenNorm): Value {
  const { b } = m;
  const d = widthOf(x);
  return b.scope(name, () => {
    const h = b.add(x, attention(m, tokenNorm(m, x, `${name}.norm1`, norm), `${name}.attn`, heads));
    let f = gelu(m, tokenLinear(m, tokenNorm(m, h, `${name}.norm2`, norm), `${name}.mlp.fc1`, 4 * d));
    if (norm === "batch") f = tokenBatchNorm(m, f, `${name}.mlp.norm`);
    return b.add(h, tokenLinear(m, f, `${name}.mlp.fc2`, d));
  });
}

export function vit(m: ModelBuilder, x: Value, o: ViTOptions): Value {
  const { b } = m;
  const d = o.width ?? 192,
    depth = o.depth ?? 12,
    p = o.patch ?? patchFor(o.size);
  if (o.size % p !== 0)
    throw new Error(`a ViT with ${p}-px patches needs a side divisible by ${p}, got ${o.size} px: resize the images`);
  const patches = (o.size / p) ** 2,
    tokens = patches + 1;
  const heads = o.heads ?? headsFor(d);
  if (d % heads !== 0) throw new Error(`a ViT of width ${d} cannot have ${heads} heads: the width must be a multiple`);
  // Patch embedding: a p×p/p convolution, then [N, D, h, w] → [N, patches, D].
  const pw = m.weight("patch_embed.proj.weight", [d, o.channels, p, p], linearDefault(o.channels * p * p));
  const pb = m.weight("patch_embed.proj.bias", [d], { kind: "zeros" });
  const emb = b.scope("patch_embed", () =>
    b.transpose(b.reshape(b.conv(x, pw, pb, { strides: [p, p] }, "proj"), [-1, d, patches]), [0, 2, 1]),
  );
  const cls = m.weight("cls_token", [1, 1, d], { kind: "normal", std: 1e-6 });
  const pos = m.weight("pos_embed", [1, tokens, d], VIT_NORMAL);
  let h = b.scope("tokens", () => {
    // The class token for every image: expanded to the shape of one patch row, [N, 1, D].
    const withCls = b.concat([b.expandLike(cls, b.slice(emb, [0], [1], [1])), emb], 1);
    return b.add(withCls, pos); // [N, T, D]
  });
  for (let i = 0; i < depth; i++) h = block(m, h, `blocks.${i}`, heads, o.norm);
  h = tokenNorm(m, h, "norm", o.norm);
  const clsOut = b.scope("pool", () => b.squeeze(b.slice(h, [0], [1], [1]), [1])); // [N, D]
  const w = m.weight("head.weight", [o.classes, d], VIT_NORMAL);
  const bias = m.weight("head.bias", [o.classes], { kind: "zeros" });
  return b.scope("head", () => b.gemm(clsOut, w, bias, { transB: true }));
}
