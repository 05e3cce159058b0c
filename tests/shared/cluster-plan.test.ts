// The cluster plan's flag allowlist against the CLI it feeds: a flag a launch may set must accept
// every choice `distill run` offers for it, so the two lists cannot drift apart silently.
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { parseClusterPlan, RUN_ONLY_CHOICES } from "../../shared/cluster-plan.ts";
import { GATE_FLAG_DEFAULTS } from "../../shared/gate-candidates.ts";
import { addRunOptions } from "../../gpu-cluster/cli/options.ts";

const accepts = (flag: string, value: string): boolean => {
  try {
    parseClusterPlan({ run: "r", ipc: 1, options: [flag, value], recoverShards: 1, relabelShards: 1 });
    return true;
  } catch {
    return false;
  }
};

describe("cluster plan options", () => {
  it("accept all or none of the choices of each `distill run` flag", () => {
    const withChoices = addRunOptions(new Command()).options.filter((o) => o.argChoices && o.long);
    expect(withChoices.map((o) => o.long)).toContain("--select");
    for (const o of withChoices) {
      // the choices a launch may take: all but those that only `distill run` takes
      const runOnly = Object.keys(RUN_ONLY_CHOICES[o.long!] ?? {});
      const choices = o.argChoices!.filter((c) => !runOnly.includes(c));
      const accepted = choices.filter((c) => accepts(o.long!, c));
      expect([0, choices.length], `${o.long}: ${accepted.join(",")} of ${choices.join(",")}`).toContain(
        accepted.length,
      );
      for (const c of runOnly) {
        expect(o.argChoices).toContain(c);
        expect(accepts(o.long!, c)).toBe(false);
      }
    }
    expect(accepts("--select", "probe")).toBe(true);
    expect(() =>
      parseClusterPlan({ run: "r", ipc: 1, options: ["--select", "factorial"], recoverShards: 1, relabelShards: 1 }),
    ).toThrow(/--select factorial trains its short students in one process .*: use `distill run` for it/);
    expect(accepts("--select", "probe;rm")).toBe(false);
    // the gate screen chooses draws at run time, which a launch's fixed gate array cannot follow
    expect(accepts("--gate-screen", "3")).toBe(false);
    // one teacher file, or several (their ensemble); nothing a shell would read more into
    expect(accepts("--teacher", "/models/a.onnx")).toBe(true);
    expect(accepts("--teacher", "/models/a.onnx,b/c.onnx")).toBe(true);
    expect(accepts("--teacher", "/models/a.onnx,")).toBe(false);
    expect(accepts("--teacher", "/models/a.onnx,$(id).onnx")).toBe(false);
  });

  it("size the gate array with `distill run`'s own defaults of --init and --select", () => {
    const opts = addRunOptions(new Command()).options;
    for (const [flag, value] of Object.entries(GATE_FLAG_DEFAULTS))
      expect(opts.find((o) => o.long === `--${flag}`)!.defaultValue, flag).toBe(value);
  });
});
