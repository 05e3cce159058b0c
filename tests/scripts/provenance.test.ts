// The "produced by" line of results pages: what the person typed, not what npm expanded it to,
// and the machine.
import { describe, expect, it } from "vitest";
import { machine, typedCommand } from "../../scripts/provenance.ts";

const argv = (...user: string[]) => ["node", "scripts/results-table.ts", ...user];

describe("typedCommand", () => {
  it("drops the flags the npm script adds before the user's own", () => {
    const env = {
      npm_lifecycle_event: "results:fashion-mnist",
      npm_lifecycle_script: "tsx scripts/results-table.ts --data /d --name fashion-mnist",
    };
    expect(
      typedCommand(argv("--data", "/d", "--name", "fashion-mnist", "--ipc", "1,10", "--", "--threads", "1"), env, "x"),
    ).toBe("npm run results:fashion-mnist -- --ipc 1,10 -- --threads 1");
  });

  it("keeps every argument when the script adds none, and drops a trailing --", () => {
    const env = { npm_lifecycle_event: "results:mnist", npm_lifecycle_script: "tsx scripts/results-table.ts" };
    expect(typedCommand(argv("--report-only"), env, "x")).toBe("npm run results:mnist -- --report-only");
    expect(typedCommand(argv(), env, "x")).toBe("npm run results:mnist");
  });

  it("keeps the arguments as given when they do not start with the script's flags", () => {
    const env = { npm_lifecycle_event: "r", npm_lifecycle_script: "tsx s.ts --data /d" };
    expect(typedCommand(argv("--ipc", "1"), env, "x")).toBe("npm run r -- --ipc 1");
  });

  it("names the fallback script when run outside npm", () => {
    expect(typedCommand(argv("--seeds", "0"), {}, "results:mnist")).toBe("npm run results:mnist -- --seeds 0");
    // `npx tsx scripts/results-table.ts …`: npm's event is "npx", its script `tsx scripts/results-table.ts …`
    const npx = { npm_lifecycle_event: "npx", npm_lifecycle_script: "tsx scripts/results-table.ts --seeds 0" };
    expect(typedCommand(argv("--seeds", "0"), npx, "results:mnist")).toBe("npm run results:mnist -- --seeds 0");
  });
});

describe("machine", () => {
  it("names the core count, the CPU model and Node's version", () => {
    expect(machine()).toMatch(/^[1-9]\d* × \S.*, Node v\d+\.\d+\.\d+$/);
  });
});
