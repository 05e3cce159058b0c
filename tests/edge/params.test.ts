// Every parameter is validated before it reaches storage: run ids, numbers in range, flags,
// manifests and token requests; each refusal is a 400 (or 404/409) with a stable code.
import { beforeAll, describe, expect, it } from "vitest";
import { call, createRun, errorCode, manifestFor, tableFor, tokenFor, upload } from "./helpers.ts";

describe("invalid parameters", () => {
  let run: Awaited<ReturnType<typeof createRun>>;
  const got = async (r: Response) => `${r.status} ${await errorCode(r)}`;

  beforeAll(async () => {
    run = await createRun({ classes: 5, ipc: 2, epochs: 3, k: 2 }, "par"); // 10 images
    expect((await upload(`/v1/runs/${run.runId}/tables/0`, run.worker, tableFor(run.m))).status).toBe(201);
  });

  it("bad run ids → 400 BAD_RUN_ID (also when percent-encoded)", async () => {
    const admin = await tokenFor("admin", "*");
    for (const id of ["a.b", "x".repeat(17), "a%2Fb", "a%2F..%2Fb", "a%00", "%20", "a%2e"]) {
      expect(await got(await call(`/v1/runs/${id}/manifest`, { token: admin })), id).toBe("400 BAD_RUN_ID");
    }
    // The URL parser resolves a literal ".." segment before routing: no route matches.
    expect(await got(await call("/v1/runs/%2e%2e/manifest", { token: admin }))).toBe("404 NOT_FOUND");
  });

  it("epoch, batch and size out of range or not decimal → 400 BAD_PARAM", async () => {
    const base = `/v1/runs/${run.runId}/batches`;
    for (const path of [
      `${base}/3/0?size=4`, // epoch = epochs
      `${base}/-1/0?size=4`,
      `${base}/01/0?size=4`,
      `${base}/1e0/0?size=4`,
      `${base}/0x1/0?size=4`,
      `${base}/0/3?size=4`, // ceil(10 / 4) = 3 batches: 0..2
      `${base}/0/0`,
      `${base}/0/0?size=0`,
      `${base}/0/0?size=11`,
      `${base}/0/0?size=4097`,
      `${base}/0/0?size=2.5`,
      `${base}/0/0?size=`,
      `${base}/0/0?size=4&pixels=2`,
      `${base}/0/0?size=4&pixels=true`,
      `${base}/99999999999/0?size=4`,
    ]) {
      expect(await got(await call(path, { token: run.trainer })), path).toBe("400 BAD_PARAM");
    }
    expect((await call(`${base}/2/2?size=4`, { token: run.trainer })).status).toBe(200);
  });

  it("image index and shard out of range → 400 BAD_PARAM", async () => {
    const png = new Uint8Array(8);
    for (const path of [
      `/v1/runs/${run.runId}/images/10`,
      `/v1/runs/${run.runId}/images/-1`,
      `/v1/runs/${run.runId}/tables/10000`,
      `/v1/runs/${run.runId}/tables/x`,
    ]) {
      expect(await got(await upload(path, run.worker, png)), path).toBe("400 BAD_PARAM");
    }
  });

  it("missing things → 404 with their code", async () => {
    const ghost = await tokenFor("trainer", ["ghost-run"]);
    expect(await got(await call("/v1/runs/ghost-run/manifest", { token: ghost }))).toBe("404 RUN_NOT_FOUND");
    const { runId, trainer } = await createRun({ classes: 2, ipc: 2, epochs: 1, k: 1 }, "empty");
    expect(await got(await call(`/v1/runs/${runId}/batches/0/0?size=2`, { token: trainer }))).toBe(
      "404 TABLE_NOT_FOUND",
    );
    expect(await got(await call(`/v1/runs/${run.runId}/batches/0/0?size=2&pixels=1`, { token: run.trainer }))).toBe(
      "404 IMAGE_NOT_FOUND",
    );
    expect(await got(await call("/v1/nothing", { token: trainer }))).toBe("404 NOT_FOUND");
  });

  it("manifests: invalid → 400 MANIFEST_INVALID naming the field; not JSON → 400 BAD_JSON; twice → 409 RUN_EXISTS", async () => {
    const admin = await tokenFor("admin", "*");
    const bad = { ...manifestFor("bad-images", { classes: 3, ipc: 2, epochs: 1, k: 1 }), images: 7 };
    const r = await call("/v1/runs", { token: admin, method: "POST", json: bad });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("MANIFEST_INVALID");
    expect(body.error.message).toContain("images");
    expect(
      await got(
        await call("/v1/runs", {
          token: admin,
          method: "POST",
          body: "{not json",
          headers: { "content-type": "application/json" },
        }),
      ),
    ).toBe("400 BAD_JSON");
    expect(
      await got(
        await call("/v1/runs", {
          token: admin,
          method: "POST",
          json: { ...manifestFor("x", { classes: 2, ipc: 1, epochs: 1, k: 1 }), runId: "../etc" },
        }),
      ),
    ).toBe("400 MANIFEST_INVALID");
    expect(await got(await call("/v1/runs", { token: admin, method: "POST", json: run.m }))).toBe("409 RUN_EXISTS");
  });

  it("token requests: unknown role, wildcard for a worker, ttl too long, extra field → 400 BAD_PARAM", async () => {
    const admin = await tokenFor("admin", "*");
    for (const json of [
      { role: "root", runs: "*" },
      { role: "worker", runs: "*" },
      { role: "trainer", runs: [] },
      { role: "trainer", runs: ["a/b"] },
      { role: "trainer", runs: ["a"], ttlSeconds: 1e9 },
      { role: "trainer", runs: ["a"], scope: "all" },
    ]) {
      expect(await got(await call("/v1/tokens", { token: admin, method: "POST", json })), JSON.stringify(json)).toBe(
        "400 BAD_PARAM",
      );
    }
  });

  it("uploads need x-content-sha256 and Content-Length", async () => {
    const table = tableFor(run.m);
    const path = `/v1/runs/${run.runId}/tables/1`;
    expect(
      await got(await call(path, { token: run.worker, method: "PUT", body: table as Uint8Array<ArrayBuffer> })),
    ).toBe("400 SHA256_REQUIRED");
    expect(
      await got(
        await call(path, {
          token: run.worker,
          method: "PUT",
          body: table as Uint8Array<ArrayBuffer>,
          headers: { "x-content-sha256": "abc" },
        }),
      ),
    ).toBe("400 SHA256_REQUIRED");
  });
});
