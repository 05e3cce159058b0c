// Test fixtures for the edge (no Workers runtime needed, so Node tests against wrangler dev use
// them too): tokens signed with the development key, run manifests, label tables written with
// the shared LabelTableWriter, PNG images, request bodies that pause.
import { encode } from "fast-png";
import { defaultCropSchedule, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import { LabelTableWriter, QUANT_F16, QUANT_U8 } from "../../shared/label-table/index.ts";
import type { RunManifest } from "../../shared/manifest.ts";
import { uniform } from "../../shared/random.ts";
import type { Role } from "../../edge/src/auth/claims.ts";
import { issueToken } from "../../edge/src/auth/tokens.ts";
import { DEV_SIGNING_KEY } from "../../edge/scripts/dev-key.ts";

export const BASE = "http://edge.test";

let counter = 0;
/** A fresh run id per test (tests share one bucket). */
export function newRunId(prefix = "t"): string {
  return `${prefix}${Date.now().toString(36).slice(-6)}${(counter++).toString(36)}`.slice(0, 16);
}

export async function tokenFor(role: Role, runs: string[] | "*", ttlSeconds = 3600, now?: number): Promise<string> {
  return (await issueToken(DEV_SIGNING_KEY, { role, runs, ttlSeconds }, now)).token;
}

export interface RunShape {
  classes: number;
  ipc: number;
  epochs: number;
  k: number;
  quant?: "u8" | "f16";
  cropsPerImage?: number;
  channels?: number;
  sourceSize?: number;
  outputSize?: number;
  mix?: CropScheduleParams["mix"];
  rotate?: number;
  seed?: number;
}

export function manifestFor(runId: string, s: RunShape): RunManifest {
  const size = s.sourceSize ?? 8;
  const schedule = defaultCropSchedule({
    seed: s.seed ?? 7,
    sourceSize: size,
    outputSize: s.outputSize ?? size,
    mix: s.mix,
    rotate: s.rotate,
  });
  return {
    version: 1,
    runId,
    createdAt: "2026-11-25T00:00:00.000Z",
    dataset: { name: "synthetic", classes: s.classes, channels: s.channels ?? 1, height: size, width: size },
    ipc: s.ipc,
    images: s.classes * s.ipc,
    resolution: size,
    relabel: {
      epochs: s.epochs,
      cropsPerImage: s.cropsPerImage ?? 1,
      k: s.k,
      quant: s.quant ?? "u8",
      temperature: 1,
      schedule,
    },
    seeds: { run: 1 },
    teacher: { id: "teacher-test", arch: "none" },
  };
}

/** Teacher-like soft labels for one epoch (deterministic in run seed and epoch), slot order. */
export function epochProbs(m: RunManifest, epoch: number): Float32Array {
  const C = m.dataset.classes;
  const crops = m.images * m.relabel.cropsPerImage;
  const out = new Float32Array(crops * C);
  for (let r = 0; r < crops; r++) {
    let sum = 0;
    const row = out.subarray(r * C, (r + 1) * C);
    for (let c = 0; c < C; c++) {
      row[c] = Math.exp(3 * uniform(99, epoch, r, c));
      sum += row[c];
    }
    for (let c = 0; c < C; c++) row[c] /= sum;
  }
  return out;
}

/** A shard holding epochs [epochStart, epochStart + epochCount), written with the shared writer. */
export function tableFor(m: RunManifest, epochStart = 0, epochCount = m.relabel.epochs - epochStart): Uint8Array {
  return otherTableFor(m, 0, epochStart, epochCount);
}

/** Image i as an 8-bit PNG (interleaved), with its planar pixels in [0, 1] as the edge decodes them. */
export function imageFor(m: RunManifest, i: number): { png: Uint8Array; planar: Float32Array } {
  const S = m.relabel.schedule.sourceSize,
    C = m.dataset.channels;
  const data = new Uint8Array(S * S * C);
  for (let j = 0; j < data.length; j++) data[j] = Math.floor(uniform(5, i, j) * 256);
  const planar = new Float32Array(C * S * S);
  for (let p = 0; p < S * S; p++) for (let c = 0; c < C; c++) planar[c * S * S + p] = data[p * C + c] / 255;
  return { png: encode({ width: S, height: S, data, channels: C, depth: 8 }), planar };
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A body that sends `bytes` in 1 KiB chunks and stops after `pauseAt` bytes until released. */
export function pausedBody(bytes: Uint8Array, pauseAt: number) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= pauseAt && sent < bytes.length) await released;
      const end = Math.min(bytes.length, sent < pauseAt ? pauseAt : bytes.length, sent + 1024);
      controller.enqueue(bytes.slice(sent, end));
      sent = end;
      if (sent >= bytes.length) controller.close();
    },
  });
  return { stream, release, sent: () => sent };
}

/** A shard like tableFor's with other (still valid) soft labels: `salt` shifts the label stream (0: tableFor's). */
export function otherTableFor(
  m: RunManifest,
  salt: number,
  epochStart = 0,
  epochCount = m.relabel.epochs - epochStart,
): Uint8Array {
  const w = new LabelTableWriter({
    classes: m.dataset.classes,
    images: m.images,
    epochs: m.relabel.epochs,
    epochStart,
    epochCount,
    cropsPerImage: m.relabel.cropsPerImage,
    k: m.relabel.k,
    quant: m.relabel.quant === "u8" ? QUANT_U8 : QUANT_F16,
    seed: m.relabel.schedule.seed,
    runId: m.runId,
  });
  for (let e = epochStart; e < epochStart + epochCount; e++) w.addEpoch(e, epochProbs(m, e + salt));
  return w.finish();
}
