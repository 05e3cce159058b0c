// The same cluster run as Kubernetes Jobs: squeeze, the recover, gate and relabel shards as Indexed
// Jobs (completionMode Indexed: pod i gets JOB_COMPLETION_INDEX = i, which `distill shard`
// reads; backoffLimitPerIndex retries a failed shard alone), merge. Kubernetes has no afterok
// between Jobs: the admin applies them in order, waiting for each (`kubectl wait`), which the
// printed commands do. Pods share a volume (a PersistentVolumeClaim) holding the project
// checkout and the run folder; the edge's worker token comes from a Secret.
import { ARRAY_STAGES, planStages, stageWidth, type ClusterPlan, type Stage } from "../../../shared/cluster-plan.ts";
import { jobScript } from "./job-script.ts";

export interface KubernetesOptions {
  /** Container image with Node.js ≥ 20 (the project itself comes from the volume). */
  image: string;
  /** PersistentVolumeClaim mounted at /data in every pod. */
  claim: string;
  /** The project checkout, on the volume. */
  repo: string;
  /** The run folder, on the volume. */
  runDir: string;
  namespace?: string;
  /** Edge to stream results to; the worker token is the Secret `distill-edge-<run>`, key `token`. */
  edge?: string;
  /** Shards of one stage running at once (default: all). */
  parallelism?: number;
}

export function jobName(p: ClusterPlan, stage: Stage): string {
  return `distill-${p.run.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-${stage}`;
}

export function kubernetesJobs(p: ClusterPlan, o: KubernetesOptions): Record<string, unknown>[] {
  return planStages(p).map((stage) => {
    const width = stageWidth(p, stage);
    const indexed = ARRAY_STAGES.includes(stage);
    const r = p.resources;
    const limits: Record<string, string> = { cpu: String(r.cpusPerTask) };
    if (r.memMb) limits.memory = `${r.memMb}Mi`;
    if (r.gpusPerTask && stage !== "merge") limits["nvidia.com/gpu"] = String(r.gpusPerTask);
    const env: Record<string, unknown>[] = [{ name: "DISTILL_EP", value: p.ep }];
    if (o.edge)
      env.push({
        name: "DISTILL_EDGE_TOKEN",
        valueFrom: { secretKeyRef: { name: `distill-edge-${p.run.toLowerCase()}`, key: "token" } },
      });
    // the script retries a killed process itself once per pod; Kubernetes retries the pod
    const script = jobScript(p, stage, { repo: o.repo, runDir: o.runDir, node: "node", edge: o.edge, attempts: 1 });
    return {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: jobName(p, stage),
        ...(o.namespace ? { namespace: o.namespace } : {}),
        labels: { "app.kubernetes.io/name": "distill", "distill/run": p.run.toLowerCase(), "distill/stage": stage },
      },
      spec: {
        completions: width,
        parallelism: Math.min(width, o.parallelism ?? width),
        ...(indexed
          ? { completionMode: "Indexed", backoffLimitPerIndex: p.maxRetries, maxFailedIndexes: 0 }
          : { backoffLimit: p.maxRetries }),
        template: {
          metadata: { labels: { "distill/run": p.run.toLowerCase(), "distill/stage": stage } },
          spec: {
            restartPolicy: "Never",
            containers: [
              {
                name: stage,
                image: o.image,
                command: ["bash", "-c", script],
                env,
                resources: { limits, requests: limits },
                volumeMounts: [{ name: "data", mountPath: "/data" }],
              },
            ],
            volumes: [{ name: "data", persistentVolumeClaim: { claimName: o.claim } }],
          },
        },
      },
    };
  });
}

/** The commands an admin runs: each stage's Job, then wait for it to complete before the next. */
export function kubectlCommands(p: ClusterPlan, files: string[], namespace?: string): string[] {
  const ns = namespace ? ` -n ${namespace}` : "";
  return planStages(p).flatMap((stage, i) => [
    `kubectl apply${ns} -f ${files[i]}`,
    `kubectl wait${ns} --for=condition=complete --timeout=-1s job/${jobName(p, stage)}`,
  ]);
}
