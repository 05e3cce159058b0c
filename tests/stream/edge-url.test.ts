// --edge is checked when parsed: a malformed URL is refused at once with the fix, not after the
// client's retries as if the edge were down; a good one loses only its trailing slashes.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { edgeUrl } from "../../gpu-cluster/cli/edge-url.ts";

describe("--edge", () => {
  it("keeps an http(s) base URL and refuses anything else with the reason", () => {
    expect(edgeUrl("http://127.0.0.1:8787")).toBe("http://127.0.0.1:8787");
    expect(edgeUrl("https://edge.example.org/base//")).toBe("https://edge.example.org/base");
    const refusals: [string, RegExp][] = [
      ["notaurl", /--edge must be the edge's http\(s\) base URL, e\.g\. http:\/\/127\.0\.0\.1:8787, got 'notaurl'/],
      ["127.0.0.1:8787", /--edge must be the edge's http\(s\) base URL/],
      ["localhost:8787", /--edge must start with http:\/\/ or https:\/\/, got 'localhost:8787'/],
      ["ftp://edge", /--edge must start with http:\/\/ or https:\/\/, got 'ftp:\/\/edge'/],
      ["http://edge/?token=x", /no query, fragment or credentials/],
      ["http://admin:pw@edge", /no query, fragment or credentials/],
    ];
    for (const [v, message] of refusals) {
      expect(() => edgeUrl(v), v).toThrow(InvalidArgumentError);
      expect(() => edgeUrl(v), v).toThrow(message);
    }
  });

  it("distill train refuses a malformed --edge before any request", () => {
    const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
    const r = spawnSync(
      tsx,
      ["gpu-cluster/cli/distill.ts", "train", "--edge", "notaurl", "--token", "t", "--run", "r"],
      {
        encoding: "utf8",
        env: { ...process.env, FORCE_COLOR: "0" },
      },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/argument 'notaurl' is invalid\. --edge must be the edge's http\(s\) base URL/);
    expect(r.stderr).not.toMatch(/retry/);
  });
});
