// The walker's own guarantees, independent of any one rule: a rule's gradient must reduce to
// its input's shape, a gradient reaching an output no rule reads is an error, and an operator
// cannot be registered twice.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../gpu-cluster/graph/builder.ts";
import { gradients } from "../../gpu-cluster/autodiff/gradients.ts";
import { GRAD_RULES, registerRules } from "../../gpu-cluster/autodiff/registry.ts";
import type { GradRule } from "../../gpu-cluster/autodiff/rule.ts";

describe("autodiff walker checks", () => {
  it("refuses a rule gradient that does not reduce to its input, naming op, node, input and shapes", () => {
    const b = new GraphBuilder("bad-shape");
    const x = b.input("x", "float64", [2, 3]);
    const y = b.op1("Neg", [x], {}, "negate");
    const loss = b.reduceSum(y, [0, 1], false);
    const transposed: GradRule = (c) => [c.b.transpose(c.b.expandLike(c.dy, c.y()), [1, 0])];
    expect(() => gradients(b, loss, [x], { rules: { ...GRAD_RULES, Neg: transposed } })).toThrow(
      /Neg gradient rule returned \[3, 2\] for input 0 \('x'\) of shape \[2, 3\].*negate/s,
    );
  });

  it("refuses a gradient arriving at an output its rule does not differentiate", () => {
    const b = new GraphBuilder("unread-output");
    const x = b.input("x", "float64", [4, 3]);
    const [, second] = b.op("Split", [x, b.ints([2, 2])], { axis: 0 }, { name: "halves", outputs: 2 });
    const loss = b.reduceSum(second, [0, 1], false);
    const firstOnly: GradRule = (c) => [c.dyAt(0), null];
    expect(() => gradients(b, loss, [x], { rules: { ...GRAD_RULES, Split: firstOnly } })).toThrow(
      /gradient reaches output 1 .* of Split, and its rule does not differentiate that output/,
    );
  });

  it("refuses an operator registered twice", () => {
    const rule: GradRule = (c) => [c.dy];
    expect(() => registerRules({ Foo: rule }, { Bar: rule, Foo: rule })).toThrow(/'Foo' registered twice/);
  });
});

describe("shape rules refuse what ONNX Runtime would refuse at run time", () => {
  it("ConvTranspose output_padding ≥ stride", () => {
    const b = new GraphBuilder("convT");
    const x = b.input("x", "float32", [1, 1, 3]);
    const w = b.input("w", "float32", [1, 1, 2]);
    expect(() => b.op1("ConvTranspose", [x, w], { strides: [1], dilations: [2], output_padding: [1] })).toThrow(
      /output_padding 1 on axis 0 must be in \[0, stride 1\)/,
    );
  });
});
