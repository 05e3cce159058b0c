import { describe, expect, it } from "vitest";
import { parseManifest, ManifestError, targetClass } from "../../shared/manifest.ts";
import { defaultCropSchedule } from "../../shared/crop-schedule/index.ts";

const valid = () => ({
  version: 1,
  runId: "mnist-ipc10",
  createdAt: "2026-11-25T00:00:00Z",
  dataset: { name: "mnist", classes: 10, channels: 1, height: 28, width: 28 },
  ipc: 10,
  images: 100,
  resolution: 28,
  relabel: {
    epochs: 300,
    cropsPerImage: 1,
    k: 10,
    quant: "u8",
    temperature: 4,
    schedule: defaultCropSchedule({ seed: 0, sourceSize: 28 }),
  },
  seeds: { run: 0 },
  teacher: { id: "abc", arch: "convnet-3" },
});

describe("run manifest", () => {
  it("accepts a valid manifest and gives the target class of an image", () => {
    const m = parseManifest(valid());
    expect(m.relabel.temperature).toBe(4);
    expect(targetClass(m, 0)).toBe(0);
    expect(targetClass(m, 99)).toBe(9);
  });

  it.each([
    [
      (m: any) => {
        m.images = 99;
      },
      /images: must equal dataset.classes × ipc = 100/,
    ],
    [
      (m: any) => {
        m.runId = "../etc/passwd";
      },
      /runId: ids are/,
    ],
    [
      (m: any) => {
        m.relabel.k = 11;
      },
      /relabel.k: must be ≤ dataset.classes/,
    ],
    [
      (m: any) => {
        m.relabel.quant = "int4";
      },
      /relabel.quant/,
    ],
    [
      (m: any) => {
        m.version = 2;
      },
      /version/,
    ],
    [
      (m: any) => {
        delete m.teacher;
      },
      /teacher/,
    ],
    [
      (m: any) => {
        m.relabel.schedule.scale = [0.9, 0.1];
      },
      /relabel.schedule.scale/,
    ],
  ])("rejects bad field %#, naming it", (mutate, message) => {
    const m = valid();
    mutate(m);
    expect(() => parseManifest(m)).toThrow(ManifestError);
    expect(() => parseManifest(m)).toThrow(message);
  });
});
