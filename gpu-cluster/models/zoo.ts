// The model zoo by name. Every model takes NCHW float input and returns logits [N, classes].
import type { Value } from "../graph/types.ts";
import type { ModelBuilder } from "./layers.ts";
import { convNet } from "./convnet.ts";
import { resNet101, resNet18, resNet50, type Stem } from "./resnet.ts";
import { vit } from "./vit.ts";

export interface ModelSpec {
  arch: string;
  classes: number;
  channels: number;
  size: number;
  /** Overrides the first-stage width (ViT: the embedding width; tests use small widths). */
  width?: number;
  /** ViT only: overrides the number of transformer blocks (tests use fewer). */
  depth?: number;
}

/** ConvNet depths (DC's ConvNet-D: D conv blocks), each with BatchNorm or with InstanceNorm (-in-). */
const CONVNET_DEPTHS = [1, 2, 3, 4, 5];

export const ARCHITECTURES: readonly string[] = [
  ...CONVNET_DEPTHS.map((d) => `convnet-${d}`),
  ...CONVNET_DEPTHS.map((d) => `convnet-in-${d}`),
  "resnet18",
  "resnet50",
  "resnet101",
  "vit-tiny",
  "bn-vit-tiny",
];

/** Architectures without BatchNorm: recover has no statistics to match in them (students only). */
export const WITHOUT_BATCHNORM: readonly string[] = [
  "vit-tiny",
  ...ARCHITECTURES.filter((a) => a.startsWith("convnet-in-")),
];

/** The BatchNorm form of an architecture without BatchNorm (what to use as a teacher instead). */
export const batchNormForm = (arch: string): string =>
  arch === "vit-tiny" ? "bn-vit-tiny" : arch.replace(/^convnet-in-/, "convnet-");

/** ImageNet stem from 128 px up; the small-image stem below. */
export const stemFor = (size: number): Stem => (size >= 128 ? "imagenet" : "small");

export function buildModel(m: ModelBuilder, x: Value, spec: ModelSpec): Value {
  const conv = /^convnet-(in-)?(\d+)$/.exec(spec.arch);
  if (conv) {
    const depth = Number(conv[2]);
    if (spec.size / 2 ** depth < 1)
      throw new Error(`${spec.arch} needs images of at least ${2 ** depth} px, got ${spec.size}`);
    const norm = conv[1] ? "instance" : "batch";
    return convNet(m, x, { depth, classes: spec.classes, width: spec.width, norm });
  }
  if (spec.arch === "resnet18")
    return resNet18(m, x, { classes: spec.classes, stem: stemFor(spec.size), width: spec.width });
  if (spec.arch === "resnet50")
    return resNet50(m, x, { classes: spec.classes, stem: stemFor(spec.size), width: spec.width });
  if (spec.arch === "resnet101")
    return resNet101(m, x, { classes: spec.classes, stem: stemFor(spec.size), width: spec.width });
  if (spec.arch === "vit-tiny" || spec.arch === "bn-vit-tiny") {
    const norm = spec.arch === "vit-tiny" ? "layer" : "batch";
    return vit(m, x, { ...spec, norm, width: spec.width, depth: spec.depth });
  }
  throw new Error(`unknown architecture '${spec.arch}': choose one of ${ARCHITECTURES.join(", ")}`);
}
