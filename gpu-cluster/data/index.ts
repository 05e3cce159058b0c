// Public surface of the data module.
export * from "./dataset.ts";
export * from "./errors.ts";
export { loadDataset, type LoadOptions } from "./load.ts";
export { loadMnist, embeddedMnistDir } from "./mnist.ts";
export { loadIdxFolder, findIdxFiles } from "./idx-dataset.ts";
export { parseIdx, readIdx } from "./idx.ts";
export { loadImageFolder, isImageFolder, type ImageFolderOptions } from "./image-folder.ts";
export { decodeImage } from "./image-decode.ts";
export { resizeBilinear } from "./resize.ts";
export { stratifiedSplit, validationSplit } from "./split.ts";
export { channelStats, type ChannelStats } from "./stats.ts";
export { makeBatch, epochBatches, defaultAugment, type AugmentOptions } from "./augment.ts";
export { Random } from "./random.ts";
export { mirrorAsymmetry, FLIP_THRESHOLD, type MirrorMeasure } from "./mirror.ts";
