// Authentication and authorisation: every role against every route (allowed → 2xx, wrong role
// → 403 FORBIDDEN_ROLE, wrong run → 403 FORBIDDEN_RUN, no token → 401), and the ways a token
// can be bad (expired, tampered, foreign key, alg none, bad claims, revoked).
import { sign } from "hono/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../edge/src/auth/claims.ts";
import { DEV_SIGNING_KEY } from "../../edge/scripts/dev-key.ts";
import {
  call,
  createRun,
  errorCode,
  imageFor,
  manifestFor,
  newRunId,
  sha256Hex,
  tableFor,
  tokenFor,
  upload,
} from "./helpers.ts";

type Caller = Role | "worker-other-run" | "trainer-other-run" | "none";

interface Route {
  name: string;
  allowed: Role[];
  /** Whether the route is scoped to a run (so FORBIDDEN_RUN applies). */
  scoped: boolean;
  send: (token: string | undefined) => Promise<Response>;
}

describe("role × route matrix", () => {
  let runId: string;
  let m: ReturnType<typeof manifestFor>;
  let table: Uint8Array;
  let png: Uint8Array;
  const tokens = new Map<Caller, string | undefined>();

  beforeAll(async () => {
    const run = await createRun({ classes: 4, ipc: 2, epochs: 2, k: 2 }, "auth");
    runId = run.runId;
    m = run.m;
    table = tableFor(m);
    png = imageFor(m, 0).png;
    expect((await upload(`/v1/runs/${runId}/tables/0`, run.worker, table)).status).toBe(201);
    const other = newRunId("other");
    tokens
      .set("admin", run.admin)
      .set("worker", run.worker)
      .set("trainer", run.trainer)
      .set("worker-other-run", await tokenFor("worker", [other]))
      .set("trainer-other-run", await tokenFor("trainer", [other]))
      .set("none", undefined);
  });

  const routes: Route[] = [
    {
      name: "POST /v1/tokens",
      allowed: ["admin"],
      scoped: false,
      send: (t) => call("/v1/tokens", { token: t, method: "POST", json: { role: "trainer", runs: [runId] } }),
    },
    {
      name: "DELETE /v1/tokens/:jti",
      allowed: ["admin"],
      scoped: false,
      send: (t) => call(`/v1/tokens/${crypto.randomUUID().replaceAll("-", "")}`, { token: t, method: "DELETE" }),
    },
    {
      name: "POST /v1/runs",
      allowed: ["admin"],
      scoped: false,
      send: (t) =>
        call("/v1/runs", {
          token: t,
          method: "POST",
          json: manifestFor(newRunId("new"), { classes: 2, ipc: 1, epochs: 1, k: 1 }),
        }),
    },
    {
      name: "GET manifest",
      allowed: ["admin", "worker", "trainer"],
      scoped: true,
      send: (t) => call(`/v1/runs/${runId}/manifest`, { token: t }),
    },
    {
      name: "GET status",
      allowed: ["admin", "worker", "trainer"],
      scoped: true,
      send: (t) => call(`/v1/runs/${runId}/status`, { token: t }),
    },
    {
      name: "PUT image",
      allowed: ["worker"],
      scoped: true,
      send: async (t) =>
        call(`/v1/runs/${runId}/images/0`, {
          token: t,
          method: "PUT",
          body: png as Uint8Array<ArrayBuffer>,
          headers: { "x-content-sha256": await sha256Hex(png) },
        }),
    },
    {
      name: "PUT table",
      allowed: ["worker"],
      scoped: true,
      send: async (t) =>
        call(`/v1/runs/${runId}/tables/0`, {
          token: t,
          method: "PUT",
          body: table as Uint8Array<ArrayBuffer>,
          headers: { "x-content-sha256": await sha256Hex(table) },
        }),
    },
    {
      name: "GET batch",
      allowed: ["trainer"],
      scoped: true,
      send: (t) => call(`/v1/runs/${runId}/batches/1/0?size=3`, { token: t }),
    },
  ];
  const callers: Caller[] = ["admin", "worker", "trainer", "worker-other-run", "trainer-other-run", "none"];

  for (const route of routes) {
    for (const caller of callers) {
      const role = caller.replace("-other-run", "") as Role;
      const expected =
        caller === "none"
          ? "401 TOKEN_MISSING"
          : !route.allowed.includes(role)
            ? "403 FORBIDDEN_ROLE"
            : caller.endsWith("-other-run") && route.scoped
              ? "403 FORBIDDEN_RUN"
              : "2xx";
      it(`${route.name} as ${caller}: ${expected}`, async () => {
        const r = await route.send(tokens.get(caller));
        if (expected === "2xx") {
          expect(r.status, await r.clone().text()).toBeGreaterThanOrEqual(200);
          expect(r.status).toBeLessThan(300);
        } else {
          expect(`${r.status} ${await errorCode(r)}`).toBe(expected);
        }
      });
    }
  }
});

describe("bad tokens", () => {
  const b64url = (s: string) => btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const fromB64url = (s: string) => atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  let runId: string;
  let trainer: string;
  const status = (t: string) => call(`/v1/runs/${runId}/status`, { headers: { authorization: `Bearer ${t}` } });

  beforeAll(async () => {
    ({ runId, trainer } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1 }, "tok"));
  });

  it("a valid token passes (control)", async () => {
    expect((await status(trainer)).status).toBe(200);
  });

  it("expired → 401 TOKEN_EXPIRED", async () => {
    const expired = await tokenFor("trainer", [runId], 60, Math.floor(Date.now() / 1000) - 3600);
    const r = await status(expired);
    expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_EXPIRED");
  });

  it("payload changed without re-signing (trainer → admin) → 401 TOKEN_INVALID", async () => {
    const [h, p, s] = trainer.split(".");
    const claims = JSON.parse(fromB64url(p));
    const forged = [h, b64url(JSON.stringify({ ...claims, role: "admin", runs: "*" })), s].join(".");
    const r = await call("/v1/tokens", { token: forged, method: "POST", json: { role: "admin", runs: "*" } });
    expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_INVALID");
  });

  it("signature altered → 401 TOKEN_INVALID", async () => {
    const [h, p, s] = trainer.split(".");
    const flipped = s.slice(0, 5) + (s[5] === "A" ? "B" : "A") + s.slice(6);
    const r = await status([h, p, flipped].join("."));
    expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_INVALID");
  });

  it("signed with another key → 401 TOKEN_INVALID", async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = await sign(
      { role: "admin", runs: "*", iat: now, exp: now + 600, jti: "foreignkey01" },
      "another-key-of-at-least-32-characters!!",
      "HS256",
    );
    const r = await status(t);
    expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_INVALID");
  });

  it("alg none → 401 TOKEN_INVALID", async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify({ role: "admin", runs: "*", iat: now, exp: now + 600, jti: "nonealg0001" }))}.`;
    const r = await call(`/v1/runs/${runId}/status`, { headers: { authorization: `Bearer ${t}x` } });
    expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_INVALID");
  });

  it('correctly signed but claims break the rules (worker with runs "*", no exp) → 401 TOKEN_INVALID', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const claims of [
      { role: "worker", runs: "*", iat: now, exp: now + 600, jti: "wildworker1" },
      { role: "admin", runs: "*", iat: now, jti: "noexpiry001" },
    ]) {
      const r = await status(await sign(claims, DEV_SIGNING_KEY, "HS256"));
      expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_INVALID");
    }
  });

  it("not a bearer JWT → 401 TOKEN_INVALID", async () => {
    for (const header of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer abc", `bearer ${trainer}`]) {
      const r = await call(`/v1/runs/${runId}/status`, { headers: { authorization: header } });
      expect(`${r.status} ${await errorCode(r)}`, header).toBe("401 TOKEN_INVALID");
    }
  });

  it("revoked by an admin → 401 TOKEN_REVOKED; other tokens keep working", async () => {
    const admin = await tokenFor("admin", "*");
    const issued = (await (
      await call("/v1/tokens", {
        token: admin,
        method: "POST",
        json: { role: "trainer", runs: [runId], ttlSeconds: 600 },
      })
    ).json()) as { token: string; claims: { jti: string; exp: number; role: string } };
    expect(issued.claims.role).toBe("trainer");
    expect((await status(issued.token)).status).toBe(200);
    expect((await call(`/v1/tokens/${issued.claims.jti}`, { token: admin, method: "DELETE" })).status).toBe(200);
    const r = await status(issued.token);
    expect(`${r.status} ${await errorCode(r)}`).toBe("401 TOKEN_REVOKED");
    expect((await status(trainer)).status).toBe(200);
  });

  it("issued tokens carry the asked role, runs and lifetime", async () => {
    const admin = await tokenFor("admin", "*");
    const before = Math.floor(Date.now() / 1000);
    const r = await call("/v1/tokens", {
      token: admin,
      method: "POST",
      json: { role: "worker", runs: [runId, "other-run"], ttlSeconds: 120 },
    });
    expect(r.status).toBe(201);
    const { claims } = (await r.json()) as { claims: { role: string; runs: string[]; exp: number; iat: number } };
    expect(claims.role).toBe("worker");
    expect(claims.runs).toEqual([runId, "other-run"]);
    expect(claims.exp - claims.iat).toBe(120);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
  });
});

describe("configuration and logging", () => {
  it("no signing key, or one too short → 500 CONFIG naming the fix (never a default key)", async () => {
    const { env } = await import("cloudflare:test");
    const { app } = await import("../../edge/src/app.ts");
    const token = await tokenFor("admin", "*");
    for (const key of [undefined, "short-key"]) {
      const r = await app.fetch(
        new Request("http://edge.test/v1/runs/x/status", { headers: { authorization: `Bearer ${token}` } }),
        { ...env, TOKEN_SIGNING_KEY: key },
      );
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect([r.status, body.error.code]).toEqual([500, "CONFIG"]);
      expect(body.error.message).toContain("wrangler secret put TOKEN_SIGNING_KEY");
    }
  });

  it("tokens never reach the logs or error messages", async () => {
    const { vi } = await import("vitest");
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m));
    try {
      const good = await tokenFor("trainer", ["r1"]);
      const expired = await tokenFor("trainer", ["r1"], 60, Math.floor(Date.now() / 1000) - 3600);
      const [h, p, s] = good.split(".");
      const bodies: string[] = [];
      for (const t of [good, expired, `${h}.${p}.${s.slice(0, -2)}xx`, `${h}.${p}`]) {
        for (const path of ["/v1/runs/r1/status", "/v1/runs/r1/batches/0/0?size=1", "/v1/tokens"]) {
          bodies.push(await (await call(path, { headers: { authorization: `Bearer ${t}` } })).text());
        }
      }
      const logged = spies.flatMap((spy) => spy.mock.calls.flat().map(String)).join("\n");
      for (const text of [logged, ...bodies]) expect(text).not.toContain(p);
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
  });
});
