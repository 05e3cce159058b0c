// `distill train`, the Node training client, against a real `wrangler dev` edge serving a real
// (tiny) distilled run: trained from the stream with local crops it is `distill evaluate` step
// for step (same accuracy, same weights); killed mid-run it resumes from its checkpoint and ends
// bit-identical; dropped connections and cut-off bodies are retried without changing a step;
// edge pixels equal the local crops of the run's PNGs; bad tokens stop it with the edge's reason.
import { createServer, type Server } from "node:http";
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchClient } from "../../edge/client/batch-client.ts";
import { channelStats, loadDataset } from "../../gpu-cluster/data/index.ts";
import { loadLocalImages, type TrainResult } from "../../gpu-cluster/cli/train.ts";
import { StreamTrainer } from "../../gpu-cluster/stream/stream-trainer.ts";
import { parseReport } from "../../gpu-cluster/cli/report.ts";
import { hardPhaseEpochs } from "../../gpu-cluster/stages/hard-label-phase.ts";
import type { RunManifest } from "../../shared/manifest.ts";
import {
  ROOT,
  distill,
  distillChild,
  expiredTrainerToken,
  makeQuadrants,
  makeRun,
  runArgs,
  startEdge,
  token,
  uploadRun,
  TRAIN_STUDENT,
  type Edge,
} from "./fixture.ts";

const root = join(ROOT, "test-output", "train-clients");
const data = join(root, "data");
const runDir = join(root, "run");
let edge: Edge;
let m: RunManifest;
let trainer: string;
let evaluateAccuracy: number;

const trainArgs = (out: string, extra: string[] = [], url = edge.url) => [
  "train",
  "--edge",
  url,
  "--run",
  m.runId,
  ...TRAIN_STUDENT,
  "--data",
  data,
  "--threads",
  "1",
  "--quiet",
  "--json",
  "--out",
  out,
  ...extra,
];

function trainOk(out: string, extra: string[] = [], url?: string): TrainResult {
  rmSync(out, { recursive: true, force: true });
  const r = distill(trainArgs(out, extra, url), { DISTILL_TOKEN: trainer });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TrainResult;
}

beforeAll(async () => {
  rmSync(root, { recursive: true, force: true });
  makeQuadrants(data);
  m = makeRun(data, runDir);
  evaluateAccuracy = parseReport(JSON.parse(readFileSync(join(runDir, "report.json"), "utf8"))).students["convnet-2"]
    .distilled;
  edge = await startEdge(join(root, "wrangler"));
  await uploadRun(edge, runDir, m);
  trainer = await token("trainer", [m.runId]);
});

afterAll(() => edge?.stop());

const bytesOf = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe("distill train (Node client)", () => {
  let uninterrupted: TrainResult;

  it("with local crops, trains exactly the student `distill evaluate` trained on the run folder", () => {
    uninterrupted = trainOk(join(root, "local"), ["--images", runDir]);
    expect(uninterrupted.crops).toBe("local");
    expect(uninterrupted.steps).toBe(m.relabel.epochs * Math.ceil(m.images / 8));
    expect(uninterrupted.valImages).toBe(400);
    // same arithmetic on the CPU EP: the same top-1, to the image
    expect(uninterrupted.accuracy).toBe(evaluateAccuracy);
    expect(uninterrupted.accuracy).toBeGreaterThan(0.4); // 4 classes: chance is 0.25
    const l = uninterrupted.epochLosses;
    expect(l.every(Number.isFinite)).toBe(true);
    expect((l.at(-1)! + l.at(-2)!) / 2).toBeLessThan((l[0] + l[1]) / 2);
  });

  it("--student-lr-stretch reaches the client's student as it reaches evaluate's: the same student", () => {
    // evaluate alone on a copy of the run (its other stages are up to date there), stretched
    const copy = join(root, "stretched-run");
    rmSync(copy, { recursive: true, force: true });
    cpSync(runDir, copy, { recursive: true });
    const e = distill(["evaluate", ...runArgs(data, copy), "--student-lr-stretch", "2"]);
    expect(e.status, e.stderr).toBe(0);
    const report = parseReport(JSON.parse(readFileSync(join(copy, "report.json"), "utf8")));
    expect(report.student_lr_stretch).toBe(2);
    const stretched = trainOk(join(root, "stretched"), ["--images", runDir, "--student-lr-stretch", "2"]);
    expect(stretched.accuracy).toBe(report.students["convnet-2"].distilled);
    expect(stretched.epochLosses.at(-1)).not.toBe(uninterrupted.epochLosses.at(-1)); // not the plain schedule
  });

  it("--student-hard-phase reaches the client's student as it reaches evaluate's: the same student", () => {
    // HALD's middle epochs take the images' own classes, not the stream's labels, in both
    const copy = join(root, "hald-run");
    rmSync(copy, { recursive: true, force: true });
    cpSync(runDir, copy, { recursive: true });
    const flags = ["--student-hard-phase", "0.5", "--student-hard-smoothing", "0.2"];
    const e = distill(["evaluate", ...runArgs(data, copy), ...flags]);
    expect(e.status, e.stderr).toBe(0);
    const report = parseReport(JSON.parse(readFileSync(join(copy, "report.json"), "utf8")));
    expect(report.student_hard_phase).toEqual({ fraction: 0.5, smoothing: 0.2 });
    const hald = trainOk(join(root, "hald"), ["--images", runDir, ...flags]);
    expect(hald.accuracy).toBe(report.students["convnet-2"].distilled);
    // the first soft epochs as the plain student's, then the hard phase's own losses
    const [start] = hardPhaseEpochs(m.relabel.epochs, 0.5);
    expect(start).toBeGreaterThan(0);
    const plain = uninterrupted.epochLosses;
    expect(hald.epochLosses.slice(0, start)).toEqual(plain.slice(0, start));
    expect(hald.epochLosses[start]).not.toBe(plain[start]);
  });

  it("killed mid-run, resumes from its checkpoint and ends with the very same weights", async () => {
    const out = join(root, "killed");
    rmSync(out, { recursive: true, force: true });
    const { child } = distillChild(trainArgs(out, ["--images", runDir, "--checkpoint-every", "3"]), {
      DISTILL_TOKEN: trainer,
    });
    // SIGKILL the moment the first checkpoint lands (no chance to clean up)
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(out, "checkpoint.bin"))) {
          clearInterval(poll);
          child.kill("SIGKILL");
          resolve();
        }
      }, 5);
    });
    await new Promise((r) => child.once("close", r));
    expect(existsSync(join(out, "result.json"))).toBe(false);
    const r = distill(trainArgs(out, ["--images", runDir, "--checkpoint-every", "3"]), { DISTILL_TOKEN: trainer });
    expect(r.status, r.stderr).toBe(0);
    const resumed = JSON.parse(r.stdout) as TrainResult;
    expect(resumed.resumedAtStep).toBeGreaterThan(0);
    expect(resumed.resumedAtStep % 3).toBe(0);
    expect(resumed.resumedAtStep).toBeLessThan(resumed.steps);
    expect(resumed.accuracy).toBe(uninterrupted.accuracy);
    expect(resumed.epochLosses).toEqual(uninterrupted.epochLosses);
    expect(readFileSync(join(out, "student.onnx")).equals(readFileSync(join(root, "local", "student.onnx")))).toBe(
      true,
    );
    // a checkpoint of another training is refused, with what differs
    const other = distill(trainArgs(out, ["--images", runDir, "--student-lr", "0.02"]), { DISTILL_TOKEN: trainer });
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/checkpoint is of another training \(student: .*"lr":0\.01.*"lr":0\.02.*delete it/);
  });

  it("retries dropped connections and cut-off bodies without changing a step", async () => {
    // A proxy in front of the edge that drops every 3rd request outright and cuts every 5th body in half.
    let n = 0;
    let dropped = 0;
    const proxy: Server = createServer(async (req, res) => {
      const i = ++n;
      if (i % 3 === 0) {
        dropped++;
        return req.socket.destroy();
      }
      const up = await fetch(edge.url + req.url, { headers: { authorization: req.headers.authorization ?? "" } });
      const body = Buffer.from(await up.arrayBuffer());
      res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "", "content-length": body.length });
      if (i % 5 === 0 && body.length > 64) {
        dropped++;
        res.write(body.subarray(0, body.length >> 1));
        return setTimeout(() => res.destroy(), 5);
      }
      res.end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const out = join(root, "flaky");
      rmSync(out, { recursive: true, force: true });
      const r = await distillChild(
        trainArgs(out, ["--images", runDir], url).filter((a) => a !== "--quiet"),
        { DISTILL_TOKEN: trainer },
      ).done;
      expect(r.status, r.stderr).toBe(0);
      const flaky = JSON.parse(r.stdout) as TrainResult;
      expect(dropped).toBeGreaterThan(10);
      expect(r.stderr).toMatch(/edge: retry 1 in \d+ ms/);
      expect(flaky.epochLosses).toEqual(uninterrupted.epochLosses);
      expect(flaky.accuracy).toBe(uninterrupted.accuracy);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it("with --pixels, the edge's crops are the local crops of the run's PNGs, and it trains as well", async () => {
    const client = await BatchClient.open({
      baseUrl: edge.url,
      token: trainer,
      run: m.runId,
      batchSize: 8,
      pixels: true,
    });
    const { train } = loadDataset(data, { seed: m.seeds.run });
    const stats = channelStats(train);
    const student = { arch: "convnet-2", width: 8, batch: 8, lr: 0.01, weightDecay: 0.01, seed: m.seeds.run };
    const fromPng = await StreamTrainer.create({
      manifest: m,
      student,
      epochs: 2,
      stats,
      images: loadLocalImages(runDir + "/images"),
    });
    const fromEdge = await StreamTrainer.create({ manifest: m, student, epochs: 2, stats });
    // the run keeps 4-bit images (16 levels, exact in an 8-bit PNG): the edge's crops are those
    // of images.npy itself, bit for bit (at 8 bits a PNG rounds the recovered pixels)
    const fromRun = await StreamTrainer.create({
      manifest: m,
      student,
      epochs: 2,
      stats,
      images: loadLocalImages(runDir),
    });
    let batches = 0;
    for await (const b of client.batches({ epoch: 0, batch: 0 }, 2)) {
      const a = fromPng.inputs(b).x.data as Float32Array;
      const e = fromEdge.inputs(b).x.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
      expect(worst).toBeLessThan(1e-5);
      expect(bytesOf(e).equals(bytesOf(fromRun.inputs(b).x.data as Float32Array))).toBe(true);
      await fromPng.step(b);
      await fromEdge.step(b);
      await fromRun.step(b);
      batches++;
    }
    expect(batches).toBe(2 * Math.ceil(m.images / 8));
    await fromPng.release();
    await fromEdge.release();
    await fromRun.release();
    const px = trainOk(join(root, "pixels"), ["--pixels"]);
    expect(px.crops).toBe("pixels");
    // so the student from the edge's pixels is the local-crop student, to the image
    expect(px.accuracy).toBe(uninterrupted.accuracy);
  });

  it("a student with no width asked for is as wide as evaluate would make it (the browser page's default)", async () => {
    const { train } = loadDataset(data, { seed: m.seeds.run });
    const stats = channelStats(train);
    const widthOf = async (arch: string) => {
      const student = { arch, batch: 8, lr: 0.01, weightDecay: 0.01, seed: m.seeds.run };
      const t = await StreamTrainer.create({ manifest: m, student, epochs: 1, stats });
      await t.release();
      return [t.config.student.width, t.spec.width];
    };
    expect(m.teacher.width).toBe(8); // the fixture's convnet-2 teacher
    expect(await widthOf("convnet-2")).toEqual([8, 8]); // its own family: the teacher's width
    expect(await widthOf("convnet-3")).toEqual([8, 8]);
    expect(await widthOf("resnet18")).toEqual([32, 32]); // another family: 32
  });

  it("an expired or foreign token (or none) stops it at once with the edge's reason", async () => {
    const expired = await expiredTrainerToken([m.runId]);
    const cases: [string, RegExp][] = [
      [expired, /401 TOKEN_EXPIRED/],
      [await token("trainer", ["someotherrun"]), /403 FORBIDDEN_RUN/],
    ];
    for (const [t, why] of cases) {
      const r = distill(trainArgs(join(root, "refused"), ["--images", runDir]), { DISTILL_TOKEN: t });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).not.toContain(t);
    }
    const none = distill(trainArgs(join(root, "refused"), []), { DISTILL_TOKEN: "" });
    expect(none.stderr).toMatch(/a trainer token is needed: --token T or DISTILL_TOKEN/);
  });
});
