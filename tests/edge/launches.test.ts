// Cluster launches on the edge (routes/launches.ts, storage/launch-board.ts), in workerd: the
// same plan launched twice is one launch, another plan for the run is refused; workers and
// trainers cannot launch, list or cancel; an admin scoped to one run cannot touch another's
// launch or mint tokens for it; cancel is durable (a later "running" report does not undo it);
// a worker of a launched run creates its manifest once (a rerun's identical manifest is fine).
import { describe, expect, it } from "vitest";
import { call, errorCode, imageFor, manifestFor, newRunId, tableFor, tokenFor, upload } from "./helpers.ts";

const plan = (run: string, over: object = {}) => ({
  run,
  ipc: 2,
  options: ["--epochs", "6", "--iterations", "10"],
  recoverShards: 4,
  relabelShards: 3,
  ...over,
});
const got = async (r: Response) => `${r.status}${r.ok ? "" : ` ${await errorCode(r)}`}`;

describe("launches", () => {
  it("launching twice is one launch; another plan for the run is 409; a bad plan is 400 naming the field", async () => {
    const admin = await tokenFor("admin", "*");
    const run = newRunId("L");
    const first = await call("/v1/launches", { token: admin, method: "POST", json: plan(run) });
    expect(first.status).toBe(201);
    const again = await call("/v1/launches", { token: admin, method: "POST", json: plan(run) });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { createdAt: string }).createdAt).toBe(
      ((await first.json()) as { createdAt: string }).createdAt,
    );
    expect(await got(await call("/v1/launches", { token: admin, method: "POST", json: plan(run, { ipc: 3 }) }))).toBe(
      "409 LAUNCH_EXISTS",
    );
    const bad = await call("/v1/launches", {
      token: admin,
      method: "POST",
      json: plan(newRunId("L"), { options: ["--out", "/etc"] }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/PLAN_INVALID.*'--out' is not a flag a launch may set/);
    const inject = await call("/v1/launches", {
      token: admin,
      method: "POST",
      json: plan(newRunId("L"), { options: ["--data", "x; rm -rf /"] }),
    });
    expect(await got(inject)).toBe("400 PLAN_INVALID");
  });

  it("workers and trainers cannot launch, list or cancel; a run-scoped admin cannot touch another run", async () => {
    const [mine, other] = [newRunId("M"), newRunId("O")];
    const admin = await tokenFor("admin", "*");
    expect((await call("/v1/launches", { token: admin, method: "POST", json: plan(other) })).status).toBe(201);
    for (const role of ["worker", "trainer"] as const) {
      const t = await tokenFor(role, [mine]);
      expect(await got(await call("/v1/launches", { token: t, method: "POST", json: plan(mine) }))).toBe(
        "403 FORBIDDEN_ROLE",
      );
      expect(await got(await call("/v1/launches", { token: t }))).toBe("403 FORBIDDEN_ROLE");
      expect(await got(await call(`/v1/launches/${other}/cancel`, { token: t, method: "POST" }))).toBe(
        "403 FORBIDDEN_ROLE",
      );
    }
    const scoped = await tokenFor("admin", [mine]);
    expect((await call("/v1/launches", { token: scoped, method: "POST", json: plan(mine) })).status).toBe(201);
    expect(await got(await call("/v1/launches", { token: scoped, method: "POST", json: plan(newRunId("X")) }))).toBe(
      "403 FORBIDDEN_RUN",
    );
    expect(await got(await call(`/v1/launches/${other}`, { token: scoped }))).toBe("403 FORBIDDEN_RUN");
    expect(await got(await call(`/v1/launches/${other}/cancel`, { token: scoped, method: "POST" }))).toBe(
      "403 FORBIDDEN_RUN",
    );
    expect(
      await got(
        await call(`/v1/launches/${other}/report`, {
          token: scoped,
          method: "PUT",
          json: { state: "failed", shards: [] },
        }),
      ),
    ).toBe("403 FORBIDDEN_RUN");
    const listed = (await (await call("/v1/launches", { token: scoped })).json()) as { plan: { run: string } }[];
    expect(listed.map((l) => l.plan.run)).toEqual([mine]);
    // a scoped admin mints tokens for its runs only, never "*", and revokes nothing
    const mint = (json: object) => call("/v1/tokens", { token: scoped, method: "POST", json });
    expect((await mint({ role: "worker", runs: [mine] })).status).toBe(201);
    expect(await got(await mint({ role: "worker", runs: [other] }))).toBe("403 FORBIDDEN_RUN");
    expect(await got(await mint({ role: "admin", runs: "*" }))).toBe("403 FORBIDDEN_RUN");
    expect(await got(await call("/v1/tokens/abcdefgh1234", { token: scoped, method: "DELETE" }))).toBe(
      "403 FORBIDDEN_RUN",
    );
    // nor create another run
    const m = manifestFor(other, { classes: 2, ipc: 2, epochs: 6, k: 2 });
    expect(await got(await call("/v1/runs", { token: scoped, method: "POST", json: m }))).toBe("403 FORBIDDEN_RUN");
  });

  it("cancel is durable: the state stays cancelling until the dispatcher reports the jobs cancelled", async () => {
    const admin = await tokenFor("admin", "*");
    const run = newRunId("C");
    await call("/v1/launches", { token: admin, method: "POST", json: plan(run) });
    const shards = [{ stage: "recover", index: 0, state: "RUNNING", attempts: 1, jobId: "7" }];
    const report = (state: string) =>
      call(`/v1/launches/${run}/report`, { token: admin, method: "PUT", json: { state, shards } });
    expect(((await (await report("running")).json()) as { state: string }).state).toBe("running");
    const c = await call(`/v1/launches/${run}/cancel`, { token: admin, method: "POST" });
    expect(c.status).toBe(202);
    expect(((await c.json()) as { cancelRequested: boolean }).cancelRequested).toBe(true);
    expect(((await (await report("running")).json()) as { state: string }).state).toBe("cancelling");
    expect(((await (await report("cancelled")).json()) as { state: string }).state).toBe("cancelled");
    expect(((await (await report("running")).json()) as { state: string }).state).toBe("cancelled");
    expect(
      await got(await call(`/v1/launches/${run}/report`, { token: admin, method: "PUT", json: { state: "x" } })),
    ).toBe("400 BAD_PARAM");
  });

  it("a worker of a launched run creates its manifest; the same again is unchanged; another is 409", async () => {
    const admin = await tokenFor("admin", "*");
    const run = newRunId("W");
    const worker = await tokenFor("worker", [run]);
    const m = manifestFor(run, { classes: 2, ipc: 2, epochs: 6, k: 2 });
    expect(await got(await call(`/v1/launches/${run}/manifest`, { token: worker, method: "PUT", json: m }))).toBe(
      "404 LAUNCH_NOT_FOUND",
    );
    await call("/v1/launches", { token: admin, method: "POST", json: plan(run) });
    expect((await call(`/v1/launches/${run}/manifest`, { token: worker, method: "PUT", json: m })).status).toBe(201);
    // what is ready: classes whose images are all published, epochs whose table shard is
    const ready = async () =>
      ((await (await call(`/v1/launches/${run}`, { token: admin })).json()) as { ready: unknown }).ready;
    expect(await ready()).toEqual({ classes: [], epochs: [] });
    for (const i of [2, 3, 0])
      expect((await upload(`/v1/runs/${run}/images/${i}`, worker, imageFor(m, i).png)).status).toBe(201);
    expect((await upload(`/v1/runs/${run}/tables/1`, worker, tableFor(m, 2, 3))).status).toBe(201);
    expect(await ready()).toEqual({ classes: [1], epochs: [[2, 5]] });
    const same = await call(`/v1/launches/${run}/manifest`, {
      token: worker,
      method: "PUT",
      json: { ...m, createdAt: "2030-01-01T00:00:00Z" },
    });
    expect(same.status).toBe(200);
    expect(
      await got(
        await call(`/v1/launches/${run}/manifest`, {
          token: worker,
          method: "PUT",
          json: { ...m, dataset: { ...m.dataset, name: "other" } },
        }),
      ),
    ).toBe("409 RUN_EXISTS");
    const trainer = await tokenFor("trainer", [run]);
    expect(await got(await call(`/v1/launches/${run}/manifest`, { token: trainer, method: "PUT", json: m }))).toBe(
      "403 FORBIDDEN_ROLE",
    );
  });

  it("a launch's manifest holds its IPC, or 8 / b times it at b bits per pixel; any other IPC is refused", async () => {
    const admin = await tokenFor("admin", "*");
    for (const [ipc, expected] of [
      [4, "201"], // 4-bit images: twice the plan's 2 per class
      [16, "201"], // 1 bit
      [3, "400 MANIFEST_INVALID"],
      [32, "400 MANIFEST_INVALID"],
    ] as const) {
      const run = newRunId("P");
      await call("/v1/launches", { token: admin, method: "POST", json: plan(run) });
      const worker = await tokenFor("worker", [run]);
      const m = manifestFor(run, { classes: 2, ipc, epochs: 6, k: 2 });
      const r = await call(`/v1/launches/${run}/manifest`, { token: worker, method: "PUT", json: m });
      expect(r.status === 201 ? "201" : await got(r), `ipc ${ipc}`).toBe(expected);
    }
  });
});
