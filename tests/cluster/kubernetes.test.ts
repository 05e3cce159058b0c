// Kubernetes Jobs of a cluster plan, validated against the Kubernetes object schema (the
// kubernetes-models package: the API's OpenAPI schema, with its validator): squeeze and merge
// are plain Jobs, recover, the gate and relabel Indexed Jobs with one completion per shard (per
// gate candidate) and a retry budget per index; the pod runs the same `distill shard` commands as a Slurm task, its index
// from JOB_COMPLETION_INDEX. The validator is shown to refuse a broken Job. `distill cluster
// kubernetes` writes the files and prints the kubectl commands.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1/Job";
import { parseClusterPlan } from "../../shared/cluster-plan.ts";
import { kubernetesJobs } from "../../gpu-cluster/cli/cluster/kubernetes.ts";

const plan = parseClusterPlan({
  run: "imnet50",
  ipc: 50,
  options: ["--data", "/data/imagenet", "--teacher-arch", "resnet18", "--epochs", "300"],
  recoverShards: 64,
  relabelShards: 30,
  ep: "cuda",
  resources: { cpusPerTask: 8, memMb: 32000, gpusPerTask: 1 },
});
const opts = { image: "node:20", claim: "distill-data", repo: "/data/distill", runDir: "/data/runs/imnet50" };

describe("Kubernetes Jobs", () => {
  it("are valid batch/v1 Jobs; the shard stages are Indexed Jobs with a retry budget per index", () => {
    const jobs = kubernetesJobs(plan, { ...opts, edge: "https://edge.example", parallelism: 16 });
    expect(jobs.map((j) => (j.metadata as { name: string }).name)).toEqual([
      "distill-imnet50-squeeze",
      "distill-imnet50-recover",
      "distill-imnet50-gate",
      "distill-imnet50-relabel",
      "distill-imnet50-merge",
    ]);
    for (const j of jobs) expect(() => new Job(j as never).validate()).not.toThrow();
    const [squeeze, recover, gate, relabel] = jobs.map((j) => j.spec as Record<string, any>);
    expect(recover).toMatchObject({
      completionMode: "Indexed",
      completions: 64,
      parallelism: 16,
      backoffLimitPerIndex: 2,
    });
    expect(relabel).toMatchObject({ completionMode: "Indexed", completions: 30, maxFailedIndexes: 0 });
    // the gate's three candidates (random, start, recovered), each its own index
    expect(gate).toMatchObject({ completionMode: "Indexed", completions: 3, parallelism: 3 });
    expect(gate.template.spec.containers[0].command[2]).toContain("'shard' 'gate'");
    expect(squeeze.completionMode).toBeUndefined();
    const pod = recover.template.spec.containers[0];
    expect(pod.resources.limits).toEqual({ cpu: "8", memory: "32000Mi", "nvidia.com/gpu": "1" });
    expect(pod.env).toContainEqual({
      name: "DISTILL_EDGE_TOKEN",
      valueFrom: { secretKeyRef: { name: "distill-edge-imnet50", key: "token" } },
    });
    const script = pod.command[2] as string;
    expect(script).toContain("'shard' 'recover'");
    expect(script).toContain("'--recover-shards' '64' '--relabel-shards' '30'");
    expect(script).toContain("'--ep' 'cuda'");
    expect(script).not.toContain("--index"); // the index comes from JOB_COMPLETION_INDEX
  });

  it("the validator refuses a broken Job (so the check above can fail)", () => {
    const [job] = kubernetesJobs(plan, opts);
    const broken = structuredClone(job) as Record<string, any>;
    broken.spec.completions = "64";
    expect(() => new Job(broken as never).validate()).toThrow(/completions/);
    const noImage = structuredClone(job) as Record<string, any>;
    delete noImage.spec.template.spec.containers[0].name;
    expect(() => new Job(noImage as never).validate()).toThrow(/name/);
  });

  it("distill cluster kubernetes writes the Job files and prints the kubectl commands in order", () => {
    const dir = join(process.cwd(), "test-output", "cluster-k8s");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "gpu-cluster/cli/distill.ts",
        "cluster",
        "kubernetes",
        "--plan",
        join(dir, "plan.json"),
      ].concat(["--image", "node:20", "--claim", "distill-data", "--out", join(dir, "jobs")]),
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(join(dir, "jobs")).sort();
    expect(files).toEqual([
      "1-distill-imnet50-squeeze.json",
      "2-distill-imnet50-recover.json",
      "3-distill-imnet50-gate.json",
      "4-distill-imnet50-relabel.json",
      "5-distill-imnet50-merge.json",
    ]);
    for (const f of files) new Job(JSON.parse(readFileSync(join(dir, "jobs", f), "utf8"))).validate();
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(`kubectl apply -f ${join(dir, "jobs", files[0])}`);
    expect(lines[1]).toBe("kubectl wait --for=condition=complete --timeout=-1s job/distill-imnet50-squeeze");
    expect(lines.length).toBe(10);
  });
});
