// Conversions between our TensorData and ORT tensors. Both wrap the same typed array: no copy
// is made either way. The Tensor class is the backend's (see ort-backend.ts).
import type { Tensor, TensorConstructor } from "onnxruntime-common";
import type { DType, TensorData } from "../graph/types.ts";

const ORT_TYPE: Record<DType, Tensor.Type> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  uint8: "uint8",
  bool: "bool",
};

export function toOrt(t: TensorData, TensorClass: TensorConstructor): Tensor {
  return new TensorClass(ORT_TYPE[t.dtype], t.data as never, [...t.shape]);
}

export function dtypeOf(t: Tensor): DType {
  const dtype = (Object.keys(ORT_TYPE) as DType[]).find((k) => ORT_TYPE[k] === t.type);
  if (!dtype) throw new Error(`unsupported ORT tensor type ${t.type}`);
  return dtype;
}

export function fromOrt(t: Tensor): TensorData {
  return { dtype: dtypeOf(t), shape: [...t.dims], data: t.data as TensorData["data"] };
}
