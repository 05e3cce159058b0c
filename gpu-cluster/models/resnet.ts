// ResNet-18, -50 and -101 in torchvision's layout and parameter names (conv1, bn1,
// layer1.0.conv1, ..., layerN.0.downsample.{0,1}, fc), so that torchvision checkpoints exported
// to ONNX line up with ours. Two stems: ImageNet (7×7/2 conv + 3×3/2 max-pool, for 224 px)
// and small-image (3×3/1 conv, no pool, for 28–64 px as in SRe2L's CIFAR/Tiny variants).
import type { Value } from "../graph/types.ts";
import type { ModelBuilder } from "./layers.ts";

export type Stem = "imagenet" | "small";

export interface ResNetOptions {
  classes: number;
  stem: Stem;
  /** Channels of the first stage (64 in torchvision); smaller for tests. */
  width?: number;
}

type Block = (m: ModelBuilder, x: Value, name: string, planes: number, stride: number) => Value;

function downsample(m: ModelBuilder, x: Value, name: string, out: number, stride: number): Value {
  if (stride === 1 && x.shape[1] === out) return x;
  return m.batchNorm(m.conv2d(x, `${name}.downsample.0`, out, 1, { stride }), `${name}.downsample.1`);
}

/** Two 3×3 convolutions with an identity or projection shortcut (expansion 1). */
export const basicBlock: Block = (m, x, name, planes, stride) =>
  m.b.scope(name, () => {
    const { b } = m;
    let h = b.relu(m.batchNorm(m.conv2d(x, `${name}.conv1`, planes, 3, { stride, pad: 1 }), `${name}.bn1`));
    h = m.batchNorm(m.conv2d(h, `${name}.conv2`, planes, 3, { pad: 1 }), `${name}.bn2`);
    return b.relu(b.add(h, downsample(m, x, name, planes, stride)));
  });

/** 1×1 → 3×3 (carrying the stride, torchvision's "v1.5") → 1×1 ×4 channels. */
export const bottleneck: Block = (m, x, name, planes, stride) =>
  m.b.scope(name, () => {
    const { b } = m;
    let h = b.relu(m.batchNorm(m.conv2d(x, `${name}.conv1`, planes, 1), `${name}.bn1`));
    h = b.relu(m.batchNorm(m.conv2d(h, `${name}.conv2`, planes, 3, { stride, pad: 1 }), `${name}.bn2`));
    h = m.batchNorm(m.conv2d(h, `${name}.conv3`, planes * 4, 1), `${name}.bn3`);
    return b.relu(b.add(h, downsample(m, x, name, planes * 4, stride)));
  });

function resNet(m: ModelBuilder, x: Value, o: ResNetOptions, block: Block, counts: number[]): Value {
  const { b } = m;
  const w = o.width ?? 64;
  let h =
    o.stem === "imagenet"
      ? m.conv2d(x, "conv1", w, 7, { stride: 2, pad: 3 })
      : m.conv2d(x, "conv1", w, 3, { stride: 1, pad: 1 });
  h = b.relu(m.batchNorm(h, "bn1"));
  if (o.stem === "imagenet") h = b.maxPool(h, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] });
  counts.forEach((n, stage) => {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      h = block(m, h, `layer${stage + 1}.${i}`, w * 2 ** stage, stride);
    }
  });
  return m.linear(b.flatten(b.globalAveragePool(h), 1), "fc", o.classes);
}

export const resNet18 = (m: ModelBuilder, x: Value, o: ResNetOptions): Value =>
  resNet(m, x, o, basicBlock, [2, 2, 2, 2]);
export const resNet50 = (m: ModelBuilder, x: Value, o: ResNetOptions): Value =>
  resNet(m, x, o, bottleneck, [3, 4, 6, 3]);
export const resNet101 = (m: ModelBuilder, x: Value, o: ResNetOptions): Value =>
  resNet(m, x, o, bottleneck, [3, 4, 23, 3]);
