// The mapping between our dtypes and ONNX's TensorProto.DataType codes.
import type { DType } from "./types.ts";

export const ONNX_DTYPE: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 };
export const DTYPE_OF_ONNX: Record<number, DType> = {
  1: "float32",
  2: "uint8",
  6: "int32",
  7: "int64",
  9: "bool",
  11: "float64",
};
