// A report as `distill run` writes it (gpu-cluster/cli/report.ts), for tests of what reads reports:
// `figures` gives what the test is about (IPC, seed, the students' top-1 …), the rest is fixed.
import type { Report } from "../../gpu-cluster/cli/report.ts";

export function reportFixture(figures: Partial<Report> & Pick<Report, "ipc" | "seed" | "students">): Report {
  return {
    dataset: "mnist",
    teacher_accuracy: 0.9952,
    classes: 10,
    images: 10 * figures.ipc,
    shape: [1, 28, 28],
    val_images: 10000,
    teacher: { arch: "convnet-3", source: "imported", file: "teacher.onnx" },
    label_table: { file: "labels.dlt", bytes: 100, fp32_bytes: 400, epochs: 3, top_k: 10, quant: "u8" },
    image_bytes: { npy: 100, png: 100 },
    seconds: {},
    ep: "cpu",
    created: "2026-12-03T00:00:00.000Z",
    command: "distill run",
    ...figures,
  };
}
