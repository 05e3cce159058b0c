// Which synthetic images are optimised together. Image i has class floor(i / ipc) and IPC index
// i mod ipc. As in the original, every batch is a block of distinct classes at the same IPC
// indices (ImageNet: 100 classes × 1), so its BN statistics are those of a class-balanced
// sample, comparable to the teacher's running statistics. With few classes (MNIST: 10) a batch
// takes several IPC indices of all classes to reach the batch size.
export interface RecoverBatch {
  /** Synthetic image indices, in batch order. */
  images: number[];
  /** Their target classes. */
  classes: number[];
}

export function recoverPlan(classes: number, ipc: number, batchSize: number): RecoverBatch[] {
  if (!(classes >= 1 && ipc >= 1 && batchSize >= 1))
    throw new Error(`recover plan needs classes, ipc and batch ≥ 1 (got ${classes}, ${ipc}, ${batchSize})`);
  const classBlock = Math.min(classes, batchSize);
  const ipcBlock = classBlock === classes ? Math.max(1, Math.floor(batchSize / classes)) : 1;
  const out: RecoverBatch[] = [];
  for (let j0 = 0; j0 < ipc; j0 += ipcBlock) {
    for (let c0 = 0; c0 < classes; c0 += classBlock) {
      const images: number[] = [];
      const cls: number[] = [];
      for (let j = j0; j < Math.min(ipc, j0 + ipcBlock); j++) {
        for (let c = c0; c < Math.min(classes, c0 + classBlock); c++) {
          images.push(c * ipc + j);
          cls.push(c);
        }
      }
      out.push({ images, classes: cls });
    }
  }
  return out;
}
