// Reading node placement from an ORT profile (gpu-cluster/runtime/placement.ts): a trace of a real
// CPU session, and a synthetic one that mixes providers, repeated runs and int64 shape arithmetic.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { describePlacement, placementFromProfile } from "../../gpu-cluster/runtime/placement.ts";
import { Program } from "../../gpu-cluster/runtime/program.ts";

const dir = mkdtempSync(join(tmpdir(), "distill-placement-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = (name: string, provider: string, op: string, inputs: Record<string, number[]>[]) => ({
  cat: "Node",
  name: `${name}_kernel_time`,
  args: { provider, op_name: op, input_type_shape: inputs },
});

describe("node placement from ORT's profile", () => {
  it("counts each node once, splits CPU nodes into int64 shape arithmetic and float fallbacks", () => {
    const run = [
      node("conv", "WebGpuExecutionProvider", "Conv", [{ float: [1, 3, 8, 8] }, { float: [4, 3, 3, 3] }]),
      node("gather", "CPUExecutionProvider", "Gather", [{ int64: [4] }, { int64: [1] }]),
      node("cast", "CPUExecutionProvider", "Cast", [{ int64: [] }]),
      node("lsm", "CPUExecutionProvider", "LogSoftmax", [{ float: [1, 10] }]),
      { cat: "Session", name: "model_run", args: {} },
    ];
    const file = join(dir, "synthetic.json");
    writeFileSync(file, JSON.stringify([...run, ...run])); // two runs: nodes repeat
    const p = placementFromProfile(file);
    expect(p.byProvider).toEqual({ WebGpuExecutionProvider: 1, CPUExecutionProvider: 3 });
    expect(p.cpuShapeOps).toEqual({ Gather: 1, Cast: 1 });
    expect(p.cpuFallbacks).toEqual({ LogSoftmax: 1 });
    expect(describePlacement(p)).toBe(
      "WebGpu 1, CPU 3 (CPU shape arithmetic: Gather 1, Cast 1; CPU fallbacks: LogSoftmax 1)",
    );
  });

  it("reads a real CPU session's trace: every node on the CPU EP, computing on floats", async () => {
    const b = new GraphBuilder("tiny");
    const x = b.input("x", "float32", [2, 3]);
    b.output(b.op1("LogSoftmax", [b.relu(b.scale(x, 2))], { axis: -1 }), "y");
    const program = await Program.compile(b.graph, [], { profilePrefix: join(dir, "real") });
    await program.run({ x: tensor("float32", [2, 3], [1, -2, 3, 4, 5, -6]) });
    program.session.endProfiling();
    await program.release();
    const trace = readdirSync(dir).find((f) => f.startsWith("real") && f.endsWith(".json"))!;
    const p = placementFromProfile(join(dir, trace));
    expect(Object.keys(p.byProvider)).toEqual(["CPUExecutionProvider"]);
    expect(p.byProvider.CPUExecutionProvider).toBeGreaterThanOrEqual(2);
    expect(p.cpuFallbacks.LogSoftmax).toBe(1);
    expect(p.cpuShapeOps).toEqual({});
  });
});
