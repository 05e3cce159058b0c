// The files an admin hands the cluster commands (--plan, --token-file, DISTILL_EDGE_TOKEN_FILE):
// a missing, unparsable, invalid or empty file is refused naming the file and the fix, not with
// a bare ENOENT or JSON.parse message; a good one reads back exactly.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readPlanFile } from "../../gpu-cluster/cli/cluster/cluster-commands.ts";
import { readTokenFile, tokenFromEnv } from "../../gpu-cluster/cli/cluster/edge-api.ts";

const dir = mkdtempSync(join(tmpdir(), "distill-cluster-files-"));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe("cluster command files", () => {
  it("--plan: read, parsed and validated, each refusal naming the file", () => {
    const plan = { run: "r1", ipc: 2, recoverShards: 3, relabelShards: 2 };
    expect(readPlanFile(file("plan.json", JSON.stringify(plan)))).toMatchObject(plan);
    const missing = join(dir, "none.json");
    expect(() => readPlanFile(missing)).toThrow(
      `--plan ${missing}: cannot read it (ENOENT): give a cluster plan's .json file`,
    );
    const broken = file("broken.json", "{run:");
    expect(() => readPlanFile(broken)).toThrow(
      new RegExp(`--plan ${broken}: not JSON \\(.*\\): give a cluster plan's`),
    );
    expect(() => readPlanFile(file("partial.json", '{"run":"r1"}'))).toThrow(/invalid cluster plan .*\n {2}ipc: /);
  });

  it("token files: trimmed, and refused when missing or empty", () => {
    expect(readTokenFile(file("token", "  abc.def.ghi\n"))).toBe("abc.def.ghi");
    const missing = join(dir, "no-token");
    expect(() => readTokenFile(missing)).toThrow(
      `--token-file ${missing}: cannot read it (ENOENT): give a file holding the token`,
    );
    const empty = file("empty", " \n");
    expect(() => readTokenFile(empty)).toThrow(`--token-file ${empty}: the file is empty: write the token into it`);
    expect(() => tokenFromEnv({ DISTILL_EDGE_TOKEN_FILE: empty })).toThrow(
      `DISTILL_EDGE_TOKEN_FILE ${empty}: the file is empty`,
    );
    expect(tokenFromEnv({ DISTILL_EDGE_TOKEN: "t1" })).toBe("t1");
  });
});
