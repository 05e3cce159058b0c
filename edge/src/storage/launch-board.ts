// Cluster launches, durably: one Durable Object (instance "cluster") holds every launch, its
// plan, the cancel flag admins set and the shard states the dispatcher reports. A Durable Object
// because launches need read-decide-write steps that never interleave (launching twice is one
// launch, a report never undoes a cancel), and because it runs the same under `wrangler dev` and
// the Workers test pool; its storage is transactional and survives restarts (R2 or KV alone
// have no such step: KV is eventually consistent). Launches are few and small: one instance is
// enough, and the dispatcher lists them with one call.
import type { DurableObjectNamespace, DurableObjectState } from "@cloudflare/workers-types/latest/index.ts";
import type { ClusterPlan } from "../../../shared/cluster-plan.ts";
import type { Env } from "../env.ts";
import { ApiError, errorBody, type ErrorCode } from "../errors.ts";

export type LaunchState = "requested" | "running" | "completed" | "failed" | "cancelling" | "cancelled";

export interface ShardState {
  stage: string;
  index: number;
  state: string;
  attempts: number;
  jobId: string;
}

export interface Launch {
  plan: ClusterPlan;
  /** Canonical JSON of the plan: the same plan launched again is the same launch. */
  planKey: string;
  state: LaunchState;
  cancelRequested: boolean;
  shards: ShardState[];
  message?: string;
  createdAt: string;
  updatedAt: string;
  by?: string;
}

export interface LaunchReport {
  state: "running" | "completed" | "failed" | "cancelled";
  shards: ShardState[];
  message?: string;
}

const TERMINAL = new Set<LaunchState>(["completed", "failed", "cancelled"]);

/** JSON with object keys sorted (equal plans give equal keys). */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

type Action =
  | { action: "launch"; plan: ClusterPlan; by?: string }
  | { action: "get"; run: string }
  | { action: "list" }
  | { action: "cancel"; run: string }
  | { action: "report"; run: string; report: LaunchReport };

export class LaunchBoard {
  constructor(
    readonly state: DurableObjectState,
    readonly env: Env,
  ) {}

  private async load(run: string): Promise<Launch> {
    const l = await this.state.storage.get<Launch>(`launch:${run}`);
    if (!l)
      throw new ApiError(
        404,
        "LAUNCH_NOT_FOUND",
        `no launch of run ${run}: an admin launches it with POST /v1/launches`,
      );
    return l;
  }

  private async save(run: string, l: Launch): Promise<Launch> {
    l.updatedAt = new Date().toISOString();
    await this.state.storage.put(`launch:${run}`, l);
    return l;
  }

  async fetch(request: Request): Promise<Response> {
    try {
      const a = (await request.json()) as Action;
      return Response.json(await this.act(a));
    } catch (e) {
      if (e instanceof ApiError) return Response.json(errorBody(e.code, e.message), { status: e.status });
      throw e;
    }
  }

  private async act(a: Action): Promise<unknown> {
    switch (a.action) {
      case "launch": {
        const key = `launch:${a.plan.run}`;
        const planKey = canonical(a.plan);
        const existing = await this.state.storage.get<Launch>(key);
        if (existing) {
          if (existing.planKey === planKey) return { created: false, launch: existing };
          throw new ApiError(
            409,
            "LAUNCH_EXISTS",
            `run ${a.plan.run} was launched with another plan; a launch is immutable: use a new run id`,
          );
        }
        const now = new Date().toISOString();
        const launch: Launch = {
          plan: a.plan,
          planKey,
          state: "requested",
          cancelRequested: false,
          shards: [],
          createdAt: now,
          updatedAt: now,
          by: a.by,
        };
        return { created: true, launch: await this.save(a.plan.run, launch) };
      }
      case "get":
        return this.load(a.run);
      case "list": {
        const all = await this.state.storage.list<Launch>({ prefix: "launch:" });
        return [...all.values()];
      }
      case "cancel": {
        const l = await this.load(a.run);
        if (TERMINAL.has(l.state)) return l;
        l.cancelRequested = true;
        l.state = "cancelling";
        return this.save(a.run, l);
      }
      case "report": {
        const l = await this.load(a.run);
        if (TERMINAL.has(l.state)) return l;
        l.shards = a.report.shards;
        l.message = a.report.message;
        // a report of jobs still running never undoes a cancel: the state stays "cancelling"
        if (a.report.state === "cancelled" || !l.cancelRequested) l.state = a.report.state;
        return this.save(a.run, l);
      }
    }
  }
}

export async function callLaunchBoard<T>(ns: DurableObjectNamespace, body: Action): Promise<T> {
  const stub = ns.get(ns.idFromName("cluster"));
  const r = await stub.fetch("https://launches/", { method: "POST", body: JSON.stringify(body) });
  const json = (await r.json()) as T & { error?: { code: ErrorCode; message: string } };
  if (!r.ok) {
    const e = json.error;
    throw new ApiError(r.status as 409, e?.code ?? "INTERNAL", e?.message ?? `the launch board answered ${r.status}`);
  }
  return json;
}
