// The crop schedule of a run: which crop of which image every (epoch, slot) holds, pure and
// random access. Shared by relabel (gpu-cluster), the batch stream (edge) and the inspector.
export * from "./params.ts";
export { batchOrder, inverseOrder, cachedBatchOrder } from "./batch-order.ts";
export { cropFor, type CropBox } from "./random-resized-crop.ts";
export { interpolationMatrix, cropResize, cropResizeInto, sampledCropMatrixT } from "./interpolation.ts";
export { mixFor, mixedCrop, type MixSpec } from "./mix.ts";
