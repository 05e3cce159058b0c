// Elementwise operators: unary ops keep their input's type; binary ops broadcast.
import type { ShapeRule } from "./context.ts";
import { broadcastShapes } from "./context.ts";
import type { DType } from "../types.ts";

const sameAsInput: ShapeRule = (ctx) => [{ dtype: ctx.input(0).dtype, shape: [...ctx.input(0).shape] }];

const broadcast =
  (dtype?: DType): ShapeRule =>
  (ctx) => {
    const ins = ctx.inputs.filter((v) => v !== null);
    return [
      {
        dtype: dtype ?? ctx.input(0).dtype,
        shape: broadcastShapes(
          ctx,
          ins.map((v) => v!.shape),
        ),
      },
    ];
  };

const CAST_TYPES: Record<number, DType> = {
  1: "float32",
  2: "uint8",
  6: "int32",
  7: "int64",
  9: "bool",
  11: "float64",
};

export const elementwiseShapes: Record<string, ShapeRule> = {
  Identity: sameAsInput,
  Neg: sameAsInput,
  Abs: sameAsInput,
  Sign: sameAsInput,
  Reciprocal: sameAsInput,
  Relu: sameAsInput,
  LeakyRelu: sameAsInput,
  Sigmoid: sameAsInput,
  Tanh: sameAsInput,
  Erf: sameAsInput,
  Exp: sameAsInput,
  Log: sameAsInput,
  Sqrt: sameAsInput,
  Not: sameAsInput,
  Softmax: sameAsInput,
  LogSoftmax: sameAsInput,
  Clip: sameAsInput,
  Add: broadcast(),
  Sub: broadcast(),
  Mul: broadcast(),
  Div: broadcast(),
  Pow: broadcast(),
  Max: broadcast(),
  Min: broadcast(),
  Greater: broadcast("bool"),
  Less: broadcast("bool"),
  Equal: broadcast("bool"),
  GreaterOrEqual: broadcast("bool"),
  LessOrEqual: broadcast("bool"),
  And: broadcast("bool"),
  Or: broadcast("bool"),
  Where: (ctx) => [
    {
      dtype: ctx.input(1).dtype,
      shape: broadcastShapes(
        ctx,
        [0, 1, 2].map((i) => ctx.input(i).shape),
      ),
    },
  ],
  Cast: (ctx) => {
    const to = ctx.int("to", 1);
    const dtype = CAST_TYPES[to];
    if (!dtype) throw ctx.error("BAD_ATTRIBUTE", `Cast to ONNX type ${to} is not supported`);
    return [{ dtype, shape: [...ctx.input(0).shape] }];
  },
  Dropout: (ctx) => [
    { dtype: ctx.input(0).dtype, shape: [...ctx.input(0).shape] },
    { dtype: "bool", shape: [...ctx.input(0).shape] },
  ],
};
