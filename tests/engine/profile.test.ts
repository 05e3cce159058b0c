// CompileOptions.profilePrefix: ORT writes a Chrome-trace profile with one event per node run,
// which bench/profile.ts sums per op type.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { Program } from "../../gpu-cluster/runtime/program.ts";

describe("ORT profiling", () => {
  it("writes a trace with the graph's nodes and one model_run per run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-profile-test-"));
    try {
      const b = new GraphBuilder("profiled");
      const x = b.input("x", "float32", [2, 3]);
      b.output(b.op1("Relu", [b.mul(x, x)]), "y");
      const p = await Program.compile(b.graph, [], { profilePrefix: join(dir, "ort") });
      for (let i = 0; i < 2; i++) await p.run({ x: tensor("float32", [2, 3], [1, -2, 3, -4, 5, -6]) });
      p.session.endProfiling();
      await p.release();
      const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
      expect(files.length).toBe(1);
      const events = JSON.parse(readFileSync(join(dir, files[0]), "utf8")) as {
        cat: string;
        name: string;
        args?: { op_name?: string };
      }[];
      expect(events.filter((e) => e.cat === "Session" && e.name === "model_run").length).toBe(2);
      const ops = new Set(events.filter((e) => e.cat === "Node").map((e) => e.args?.op_name));
      expect(ops.has("Mul") && ops.has("Relu")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes nothing without a prefix", async () => {
    const b = new GraphBuilder("plain");
    const x = b.input("x", "float32", [2]);
    b.output(b.neg(x), "y");
    const p = await Program.compile(b.graph, []);
    await p.run({ x: tensor("float32", [2], [1, 2]) });
    expect(readdirSync(".").some((f) => f.startsWith("onnxruntime_profile_"))).toBe(false);
    await p.release();
  });
});
