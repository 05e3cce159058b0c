// `distill continual` (class-incremental learning from distilled sets): the protocol's pure parts
// on random cases, then a tiny 3-step run end to end on a generated 20-class image folder — killed
// after its second step and resumed — checking that every step's students were tested on the
// seen classes only, that the memory grows by exactly the added classes' blocks and keeps the
// earlier ones unchanged, and that each stored soft label is the arrival teacher's on exactly
// the crop a student trains on.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { writePng } from "../../gpu-cluster/io/png.ts";
import { readNpy } from "../../gpu-cluster/io/npy.ts";
import { loadDataset, Random, type Dataset } from "../../gpu-cluster/data/index.ts";
import { classOrder, classSubset, incrementSteps, memoryEpochs } from "../../gpu-cluster/stages/class-increments.ts";
import { memoryBatches, relabelMemory, type MemoryBlock } from "../../gpu-cluster/stages/memory-student.ts";
import { readTeacherFile } from "../../gpu-cluster/stages/teacher-file.ts";
import { softmaxRows } from "../../gpu-cluster/stages/softmax.ts";
import { Classifier } from "../../gpu-cluster/runtime/inference.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { stepResultSchema, type StepResult } from "../../gpu-cluster/cli/continual-report.ts";

const root = join(process.cwd(), "test-output", "continual");
const data = join(root, "blobs20");
const data3 = join(root, "blobs3");
const out = join(root, "run");
const IPC = 2;
const T = 4;
const tiny = (dataDir: string, outDir: string, steps: number, seeds: string) => [
  "continual",
  "--data",
  dataDir,
  "--out",
  outDir,
  "--steps",
  String(steps),
  "--ipc",
  String(IPC),
  "--seeds",
  seeds,
  "--teacher-arch",
  "convnet-2",
  "--teacher-width",
  "8",
  "--teacher-epochs",
  "15",
  "--iterations",
  "10",
  "--recover-batch",
  "40",
  "--student-crops",
  "1500",
  "--students",
  "convnet-2",
  "--student-width",
  "8",
  "--student-batch",
  "20",
  "--student-lr",
  "0.01",
  "--top-k",
  "20",
  "--temperature",
  String(T),
  "--threads",
  "1",
  "--quiet",
];
const node = (args: string[]) =>
  [process.execPath, ["--import", "tsx", "gpu-cluster/cli/distill.ts", ...args]] as const;
const distill = (args: string[]) =>
  spawnSync(...node(args), { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });

/** `classes` classes of 12×12 gray images: a blob at a class-specific place, plus noise; 20 per class. */
function writeBlobs(dir: string, classes: number): void {
  const rng = new Random(7);
  for (let c = 0; c < classes; c++) {
    const name = `k${String(c).padStart(2, "0")}`;
    mkdirSync(join(dir, name), { recursive: true });
    const cy = 2 + 2 * Math.floor(c / 5),
      cx = 2 + 2 * (c % 5);
    for (let i = 0; i < 20; i++) {
      const px = new Float32Array(144);
      for (let y = 0; y < 12; y++)
        for (let x = 0; x < 12; x++)
          px[y * 12 + x] = Math.min(
            1,
            Math.max(0, Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 3) * 0.9 + 0.1 * rng.normal()),
          );
      writePng(join(dir, name, `${i}.png`), { data: px, channels: 1, height: 12, width: 12 });
    }
  }
}

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  writeBlobs(data, 20);
  writeBlobs(data3, 3);
});

describe("class-incremental protocol", () => {
  it("class orders are seeded permutations; steps partition them, each adding ⌊C/S⌋ or ⌈C/S⌉ classes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(1000), fc.nat(1000), (C, seed, sRaw) => {
        const order = classOrder(C, seed);
        expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: C }, (_, c) => c));
        expect(classOrder(C, seed)).toEqual(order);
        const S = 1 + (sRaw % C);
        const steps = incrementSteps(order, S);
        expect(steps.length).toBe(S);
        let seen: number[] = [];
        for (const st of steps) {
          expect(st.added.length === Math.floor(C / S) || st.added.length === Math.ceil(C / S)).toBe(true);
          seen = [...seen, ...st.added];
          expect(st.seen).toEqual(seen);
        }
        expect(seen).toEqual(order);
      }),
      { numRuns: 200 },
    );
    expect(classOrder(10, 0)).not.toEqual(classOrder(10, 1));
    expect(() => incrementSteps(classOrder(10, 0), 11)).toThrow(
      /--steps must be an integer from 1 to the number of classes \(10\)/,
    );
    expect(() => incrementSteps(classOrder(10, 0), 0)).toThrow(/--steps/);
  });

  it("a class subset keeps only those classes, relabelled to their position, capped per class when asked", () => {
    const rng = new Random(1);
    const n = 200;
    const d: Dataset = {
      images: Uint8Array.from({ length: n * 4 }, (_, i) => i % 251),
      labels: Int32Array.from({ length: n }, () => rng.int(6)),
      classes: ["a", "b", "c", "d", "e", "f"],
      channels: 1,
      height: 2,
      width: 2,
      name: "t",
    };
    const s = classSubset(d, [4, 1]);
    expect(s.classes).toEqual(["e", "b"]);
    expect(s.labels.length).toBe(d.labels.filter((l) => l === 4 || l === 1).length);
    // each kept image is the original one, with label 0 for class 4 and 1 for class 1
    let j = 0;
    for (let i = 0; i < n; i++) {
      if (d.labels[i] !== 4 && d.labels[i] !== 1) continue;
      expect(s.labels[j]).toBe(d.labels[i] === 4 ? 0 : 1);
      expect(Array.from(s.images.subarray(j * 4, j * 4 + 4))).toEqual(Array.from(d.images.subarray(i * 4, i * 4 + 4)));
      j++;
    }
    const capped = classSubset(d, [0, 2, 5], 3, 9);
    for (let k = 0; k < 3; k++) expect(capped.labels.filter((l) => l === k).length).toBe(3);
    expect(() => classSubset(d, [1, 1])).toThrow(/repeated/);
  });

  it("student epochs never grow with the memory (a block's labels cover every later step)", () => {
    for (const crops of [undefined, 1, 999, 8000, 150_000]) {
      let last = Infinity;
      for (let n = 1; n <= 2000; n += 7) {
        const e = memoryEpochs(n, crops);
        expect(e).toBeGreaterThanOrEqual(1);
        expect(e).toBeLessThanOrEqual(last);
        if (crops) expect(e * n).toBeGreaterThanOrEqual(crops);
        last = e;
      }
    }
  });
});

function readResult(order: number, step: number): StepResult {
  return stepResultSchema.parse(
    JSON.parse(readFileSync(join(out, `order-${order}`, `step-0${step}`, "result.json"), "utf8")),
  );
}

function block(order: number, step: number, method: "ours" | "random"): MemoryBlock {
  const dir = join(out, `order-${order}`, `step-0${step}`);
  const r = readResult(order, step);
  const t = readNpy(join(dir, `${method}.npy`));
  return {
    set: { pixels: t.data as Float32Array, count: t.shape[0], channels: t.shape[1], size: t.shape[2] },
    labels: method === "ours" ? r.ours!.labels : r.block.labels,
    schedule: r.block.schedule,
    table: new Uint8Array(readFileSync(join(dir, `labels-${method}.dlt`))),
  };
}

describe("distill continual, 3 steps on a 20-class image folder", () => {
  it("killed after step 2, resumes with step 3; each step tested on its seen classes only; memory grows by the added blocks", async () => {
    // First run: SIGKILL as soon as order 0's second step is recorded.
    const child = spawn(...node(tiny(data, out, 3, "0,1")), { stdio: "ignore" });
    const stages = join(out, "order-0", "stages.json");
    const recorded = () => (existsSync(stages) ? Object.keys(JSON.parse(readFileSync(stages, "utf8")).stages) : []);
    const exited = new Promise((r) => child.on("exit", r));
    while (!recorded().includes("step-02")) {
      if (child.exitCode !== null)
        throw new Error(`the first run ended (${child.exitCode}) before step 2 was recorded`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    expect(recorded()).toEqual(["step-01", "step-02"]);
    const kept = ["step-01", "step-02"].flatMap((s) =>
      ["ours.npy", "random.npy", "labels-ours.dlt", "labels-random.dlt", "teacher.onnx"].map((f) =>
        join(out, "order-0", s, f),
      ),
    );
    const before = kept.map((f) => statSync(f).mtimeMs);

    // the table of a run in progress: the steps finished so far
    const partial = distill([...tiny(data, out, 3, "0"), "--report-only"]);
    expect(partial.status, partial.stderr).toBe(0);
    expect(partial.stdout).toMatch(/\*\*Partial\*\*: steps 1–2 of 3/);
    expect(distill([...tiny(data, out, 3, "0,1"), "--report-only"]).stderr).toMatch(
      /no step is finished in every class order/,
    );
    const records = () => JSON.parse(readFileSync(stages, "utf8")).stages;
    const finished = [records()["step-01"].finished, records()["step-02"].finished];

    // Second run: the same command finishes; steps 1 and 2 of order 0 are not redone.
    const second = distill(tiny(data, out, 3, "0,1"));
    expect(second.status, second.stderr).toBe(0);
    expect([records()["step-01"].finished, records()["step-02"].finished]).toEqual(finished);
    expect(Object.keys(records())).toEqual(["step-01", "step-02", "step-03"]);
    expect(kept.map((f) => statSync(f).mtimeMs)).toEqual(before);

    const { val } = loadDataset(data, { seed: 0 });
    for (const order of [0, 1]) {
      const names = JSON.parse(readFileSync(join(out, `order-${order}`, "order.json"), "utf8")).order as string[];
      expect([...names].sort()).toEqual([...val.classes].sort());
      let prevSeen: string[] = [];
      for (const step of [1, 2, 3]) {
        const r = readResult(order, step);
        // seen classes: the order's prefix; added: what is new since the step before
        expect(r.seen).toEqual(names.slice(0, r.seen.length));
        expect(r.seen.slice(0, prevSeen.length)).toEqual(prevSeen);
        expect(r.added).toEqual(r.seen.slice(prevSeen.length));
        expect(r.added.length).toBe([6, 7, 7][step - 1]);
        // tested on the test images of the seen classes and nothing else
        expect(r.test_classes).toEqual(r.seen);
        expect(r.test_images).toBe(Array.from(val.labels).filter((l) => r.seen.includes(val.classes[l])).length);
        if (step < 3) expect(r.test_images).toBeLessThan(val.labels.length);
        // memory: IPC images per seen class, ours' as (b)'s (auto is 8 bits here; 4 bits: below);
        // this step's block holds the added classes, labelled after the earlier ones
        expect(r.memory_images).toBe(r.seen.length * IPC);
        expect(r.block.images).toBe(r.added.length * IPC);
        expect(r.block.labels).toEqual(
          Array.from({ length: r.block.images }, (_, j) => prevSeen.length + Math.floor(j / IPC)),
        );
        const { images, labels } = r.block;
        expect(r.ours).toEqual({ bits: 8, images, labels, memory_images: r.memory_images, epochs: r.epochs });
        for (const m of ["ours", "random"] as const) {
          const b = block(order, step, m);
          expect(b.set.count).toBe(r.block.images);
          const h = decodeLabelTable(b.table!).header;
          expect([h.images, h.classes, h.epochs >= r.epochs]).toEqual([r.block.images, r.seen.length, true]);
        }
        // the memory of step s is the blocks of steps 1..s: the stage's inputs are every earlier step's files
        const rec = JSON.parse(readFileSync(join(out, `order-${order}`, "stages.json"), "utf8")).stages[
          `step-0${step}`
        ];
        const inputs = Object.keys(rec.inputs);
        for (let p = 1; p < step; p++) expect(inputs).toContain(`step-0${p}/ours.npy`);
        expect(inputs.some((f) => f.startsWith(`step-0${step}`))).toBe(false);
        // numbers: fractions; the step's teacher well above chance on the seen classes
        for (const a of Object.values(r.accuracy)) expect(a).toBeGreaterThanOrEqual(0);
        expect(r.teacher.accuracy).toBeGreaterThan(3 / r.seen.length);
        expect(r.trained).toBe(true);
        prevSeen = r.seen;
      }
    }
    const summary = JSON.parse(readFileSync(join(out, "continual.json"), "utf8"));
    expect(summary.seeds).toEqual([0, 1]);
    expect(summary.summary.map((s: { classes_seen: number }) => s.classes_seen)).toEqual([6, 13, 20]);
    const md = readFileSync(join(out, "continual.md"), "utf8");
    expect(md.split("\n").filter((l) => /^\| [123] \| (6|13|20) \|/.test(l)).length).toBe(3);
    const png = readFileSync(join(out, "continual.png"));
    expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
  });

  it("each stored soft label is its arrival teacher's softmax on exactly the crop the student trains on", async () => {
    // step 2's memory of order 1: block 1 labelled by step 1's teacher (6 classes), block 2 by step 2's (13)
    const blocks = [block(1, 1, "ours"), block(1, 2, "random")];
    const K = readResult(1, 2).seen.length;
    const teachers = [1, 2].map((s) => readTeacherFile(join(out, "order-1", `step-0${s}`, "teacher.onnx")));
    const stats = { mean: teachers[1].note!.mean, std: teachers[1].note!.std };
    const clfs = await Promise.all(teachers.map((t) => Classifier.fromOnnx(t.bytes, { threads: 1 })));
    const rowsOf = [0, 0];
    for (const epoch of [0, 5]) {
      for (const { x, targets } of memoryBatches(blocks, { kind: "soft", temperature: T }, K, 6, 8, 1, stats)(epoch)) {
        const B = x.shape[0];
        const xd = x.data as Float32Array;
        const per = xd.length / B;
        const td = targets.data as Float32Array;
        for (let b = 0; b < B; b++) {
          const row = td.subarray(b * K, (b + 1) * K);
          // block 1's rows carry nothing on the 7 classes that came after it; block 2's images are of those classes
          const t = row.subarray(6).every((v) => v === 0) ? 0 : 1;
          const note = teachers[t].note!;
          // the crop as the student gets it, re-normalised for the teacher that labelled it
          const crop = Float32Array.from(
            xd.subarray(b * per, (b + 1) * per),
            (v) => (v * stats.std[0] + stats.mean[0] - note.mean[0]) / note.std[0],
          );
          const Kt = teachers[t].classes;
          const p = new Float32Array(Kt);
          softmaxRows(
            await clfs[t].logits({ dtype: "float32", shape: [1, ...x.shape.slice(1)], data: crop }),
            1,
            Kt,
            T,
            p,
          );
          for (let k = 0; k < K; k++) expect(Math.abs(row[k] - (k < Kt ? p[k] : 0))).toBeLessThan(0.01);
          rowsOf[t]++;
        }
      }
    }
    await Promise.all(clfs.map((c) => c.release()));
    expect(rowsOf).toEqual([2 * 6 * IPC, 2 * 7 * IPC]);

    // --memory-labels current: block 1 relabelled by step 2's teacher, over all 13 seen classes
    const [again] = await relabelMemory(blocks.slice(0, 1), teachers[1].bytes, stats, K, {
      epochs: 6,
      k: 20,
      quant: "u8",
      temperature: T,
      batch: 50,
      runId: "t",
    });
    const clf2 = await Classifier.fromOnnx(teachers[1].bytes, { threads: 1 });
    for (const { x, targets } of memoryBatches([again], { kind: "soft", temperature: T }, K, 6, 50, 1, stats)(3)) {
      const B = x.shape[0];
      const p = new Float32Array(B * K);
      softmaxRows(await clf2.logits(x), B, K, T, p);
      const td = targets.data as Float32Array;
      for (let i = 0; i < B * K; i++) expect(Math.abs(td[i] - p[i])).toBeLessThan(0.01);
    }
    await clf2.release();
  });

  it("one class at the first step: nothing to train, every test image right; bad input is refused with the fix", () => {
    // at 8 bits, where a real image's pixels (multiples of 1/255) tell it from a recovered one's
    const run = distill([...tiny(data3, join(root, "run3"), 3, "0"), "--image-bits", "8"]);
    expect(run.status, run.stderr).toBe(0);
    const r1 = stepResultSchema.parse(
      JSON.parse(readFileSync(join(root, "run3", "order-0", "step-01", "result.json"), "utf8")),
    );
    expect([r1.seen.length, r1.trained, r1.accuracy.ours, r1.accuracy.random_hard]).toEqual([1, false, 1, 1]);
    // a one-class teacher separates nothing: the block keeps real images (8-bit pixels), not recovered ones
    const ours1 = readNpy(join(root, "run3", "order-0", "step-01", "ours.npy")).data as Float32Array;
    expect(ours1.length).toBe(IPC * 144);
    expect(ours1.every((v) => Math.abs(v * 255 - Math.round(v * 255)) < 1e-3)).toBe(true);
    const ours2 = readNpy(join(root, "run3", "order-0", "step-02", "ours.npy")).data as Float32Array;
    expect(ours2.every((v) => Math.abs(v * 255 - Math.round(v * 255)) < 1e-3)).toBe(false);
    const r3 = stepResultSchema.parse(
      JSON.parse(readFileSync(join(root, "run3", "order-0", "step-03", "result.json"), "utf8")),
    );
    expect([r3.seen.length, r3.trained, r3.memory_images]).toEqual([3, true, 3 * IPC]);

    // the step's teacher chooses the start among the candidates: another block than pixel k-means
    const kl = distill([
      ...tiny(data3, join(root, "run3-kl"), 3, "0"),
      ...["--image-bits", "8", "--select", "kmeans-labels"],
    ]);
    expect(kl.status, kl.stderr).toBe(0);
    const block = (dir: string) =>
      Array.from(readNpy(join(root, dir, "order-0", "step-02", "ours.npy")).data as Float32Array);
    expect(block("run3-kl")).not.toEqual(block("run3"));

    // --image-bits 4: ours keeps twice (b)'s images per class, on 16 grey levels, in (b)'s bytes
    const four = distill([...tiny(data3, join(root, "run3-4"), 3, "0"), "--image-bits", "4"]);
    expect(four.status, four.stderr).toBe(0);
    for (const step of [1, 2, 3]) {
      const dir = join(root, "run3-4", "order-0", `step-0${step}`);
      const r = stepResultSchema.parse(JSON.parse(readFileSync(join(dir, "result.json"), "utf8")));
      const ours = readNpy(join(dir, "ours.npy"));
      const random = readNpy(join(dir, "random.npy"));
      expect([r.ours!.bits, ours.shape[0], r.ours!.memory_images]).toEqual([4, 2 * IPC, 2 * IPC * step]);
      expect(ours.shape[0] * r.ours!.bits).toBe(random.shape[0] * 8);
      // one class added per step: every image of the block is that class, and its label table covers them all
      expect(r.ours!.labels).toEqual(Array(2 * IPC).fill(step - 1));
      expect(decodeLabelTable(readFileSync(join(dir, "labels-ours.dlt"))).header.images).toBe(2 * IPC);
      expect((ours.data as Float32Array).every((v) => Math.abs(v * 15 - Math.round(v * 15)) < 1e-4)).toBe(true);
      if (step > 1) expect(r.ours!.epochs).toBeLessThan(r.epochs);
    }
    expect(four.stdout).toMatch(/^\| 3 \| 3 \| 6; ours 12 at 4 bits \|/m);

    const bad = (extra: string[], message: RegExp) => {
      const r = distill([...tiny(data3, join(root, "bad"), 3, "0"), ...extra]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
    };
    bad(["--steps", "4"], /--steps must be an integer from 1 to the number of classes \(3\), got 4/);
    bad(["--teacher", join(root, "t.onnx")], /--teacher is not allowed: a teacher that has seen every class/);
    bad(["--mix", "cutmix"], /--mix cutmix is not supported.*--mix none/);
    bad(["--seed", "2"], /give --seeds or --seed, not both/);
    bad(["--seeds", "0,1,0"], /--seeds lists 0 twice/); // each seed is one class order: a repeat only re-runs it
    bad(["--memory-labels", "fresh"], /--memory-labels.*Allowed choices are kept, current/);
    bad(["--select", "probe"], /--select probe is not supported here.*kmeans-labels/);
    bad(["--select", "probe-cover"], /--select probe-cover is not supported here/);
    bad(["--student-seed", "3"], /--student-seed is not supported/);
    bad(["--student-inits", "2"], /--student-inits is not supported/);
    bad(["--student-hard-phase", "0.5"], /--student-hard-phase is not supported.*distill run/);
    bad(
      ["--ipc", "8", "--image-bits", "2"],
      /the smallest class has \d+ training images, and ours' blocks need 32 per class \(--ipc 8 × 8 \/ --image-bits 2\): lower --ipc or raise --image-bits/,
    );
  });
});
