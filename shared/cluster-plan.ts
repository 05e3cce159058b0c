// A cluster run as the admin asked for it: which run, with which `distill` options, cut into
// how many shards, on what resources. The same object travels from the edge (launch body) to the
// dispatcher, which turns it into Slurm job arrays or Kubernetes Indexed Jobs. Options are
// checked against a list of flags and value patterns: they end up on a job script's command
// line, so nothing else is allowed through.
import { z } from "zod";
import { gateCandidatesOfOptions, optionValue } from "./gate-candidates.ts";

/** `distill` flags a launch may set, each with the pattern its value must match. */
const FLAG_VALUES: Record<string, RegExp> = {
  "--data": /^[A-Za-z0-9_./-]+$/,
  "--resolution": /^[0-9]+$/,
  "--seed": /^[0-9]+$/,
  "--teacher": /^[A-Za-z0-9_./-]+\.onnx(,[A-Za-z0-9_./-]+\.onnx)*$/, // several: their ensemble
  "--teacher-arch": /^[a-z0-9-]+$/,
  "--teacher-width": /^[0-9]+$/,
  "--teacher-epochs": /^[0-9]+$/,
  "--iterations": /^[0-9]+$/,
  "--recover-batch": /^[0-9]+$/,
  "--recover-lr": /^[0-9.e-]+$/,
  "--r-bn": /^[0-9.e-]+$/,
  "--first-bn-multiplier": /^[0-9.e-]+$/,
  "--image-bits": /^(1|2|4|8|auto)$/,
  "--init": /^(noise|real|collage)$/,
  "--select": /^(random|typical|hard|kmeans|kmeans-labels|probe|probe-cover)$/,
  "--select-from": /^[0-9]+$/,
  "--gate-draws": /^[1-9][0-9]*$/,
  "--gate-keep": /^(significant|best)$/,
  "--crop-scale": /^[0-9.]+,[0-9.]+$/,
  "--flip": /^[0-9.]+$/,
  "--rotate": /^[0-9.]+$/,
  "--recover-rotate": /^[0-9.]+$/,
  "--epochs": /^[0-9]+$/,
  "--top-k": /^[0-9]+$/,
  "--quant": /^(u8|f16)$/,
  "--temperature": /^[0-9.e-]+$/,
  "--mix": /^(none|cutmix|mixup)$/,
  "--students": /^[a-z0-9,-]+$/,
  "--student-width": /^[0-9]+$/,
  "--student-batch": /^[0-9]+$/,
  "--student-lr": /^[0-9.e-]+$/,
  "--student-seed": /^[0-9]+$/,
  "--student-inits": /^[1-9][0-9]*$/,
  "--threads": /^[0-9]+$/,
};
const FLAGS_WITHOUT_VALUE = new Set(["--no-baselines", "--no-recover-gate"]);

/** Choices of a flag that only `distill run` takes, and why: its patterns above leave them out. */
export const RUN_ONLY_CHOICES: Record<string, Record<string, string>> = {
  "--select": {
    factorial: "trains its short students in one process before recover, and recover shards run apart",
  },
};

function checkOptions(options: string[], ctx: z.RefinementCtx): void {
  for (let i = 0; i < options.length; i++) {
    const flag = options[i];
    if (FLAGS_WITHOUT_VALUE.has(flag)) continue;
    const pattern = FLAG_VALUES[flag];
    if (!pattern) {
      ctx.addIssue({
        code: "custom",
        path: ["options", i],
        message: `'${flag}' is not a flag a launch may set (allowed: ${[...Object.keys(FLAG_VALUES), ...FLAGS_WITHOUT_VALUE].join(" ")}; ipc, seed of the plan and --out, --run-id, --ep are set by the plan)`,
      });
      return;
    }
    const value = options[++i];
    const runOnly = value === undefined ? undefined : RUN_ONLY_CHOICES[flag]?.[value];
    if (runOnly) {
      ctx.addIssue({
        code: "custom",
        path: ["options", i],
        message: `${flag} ${value} ${runOnly}: use \`distill run\` for it, or another ${flag}`,
      });
      return;
    }
    if (value === undefined || !pattern.test(value)) {
      ctx.addIssue({ code: "custom", path: ["options", i], message: `${flag} needs a value matching ${pattern}` });
      return;
    }
  }
}

/** As `distill run` does: a gate setting in a launch whose gate is off fails every job, so refuse the plan. */
function checkGateFlags(options: string[], ipc: number, ctx: z.RefinementCtx): void {
  const draws = optionValue(options, "--gate-draws");
  const keep = optionValue(options, "--gate-keep");
  const set = [
    ...(draws !== undefined && Number(draws) > 1 ? ["--gate-draws"] : []),
    ...(keep !== undefined && keep !== "significant" ? ["--gate-keep"] : []),
  ];
  if (set.length && gateCandidatesOfOptions(options, ipc).length === 0)
    ctx.addIssue({
      code: "custom",
      path: ["options"],
      message: `${set.join(" and ")} set the recover gate, which this launch turns off (--no-recover-gate, or --init other than real): drop one or the other`,
    });
}

export const clusterPlanSchema = z
  .object({
    /** The run id on the edge, in label tables and in job names. */
    run: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/),
    ipc: z.number().int().min(1).max(100_000),
    /** `distill` options of the run (FLAG_VALUES); the plan sets --ipc, --out, --run-id, --ep. */
    options: z.array(z.string().max(256)).max(64).default([]),
    recoverShards: z.number().int().min(1).max(10_000),
    relabelShards: z.number().int().min(1).max(10_000),
    evaluate: z.boolean().default(false),
    ep: z.enum(["cpu", "cuda", "webgpu"]).default("cpu"),
    resources: z
      .object({
        cpusPerTask: z.number().int().min(1).max(512).default(1),
        memMb: z.number().int().min(64).optional(),
        gpusPerTask: z.number().int().min(0).max(16).default(0),
        partition: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/)
          .optional(),
        timeMinutes: z.number().int().min(1).optional(),
      })
      .default({ cpusPerTask: 1, gpusPerTask: 0 }),
    /** Retries of a failed shard before the launch is failed. */
    maxRetries: z.number().int().min(0).max(10).default(2),
  })
  .superRefine((p, ctx) => {
    checkOptions(p.options, ctx);
    checkGateFlags(p.options, p.ipc, ctx);
  });

export type ClusterPlan = z.infer<typeof clusterPlanSchema>;

export function parseClusterPlan(json: unknown): ClusterPlan {
  const r = clusterPlanSchema.safeParse(json);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new Error(`invalid cluster plan (fix these fields and retry):\n  ${problems.join("\n  ")}`);
}

export const STAGES = ["squeeze", "recover", "gate", "relabel", "merge"] as const;
export type Stage = (typeof STAGES)[number];

/** Stages whose tasks are array indices (Slurm job arrays, Kubernetes Indexed Jobs). */
export const ARRAY_STAGES: readonly Stage[] = ["recover", "gate", "relabel"];

/**
 * Array indices of a stage: squeeze and merge are single jobs (index 0); the gate has one task
 * per candidate image set (shared/gate-candidates.ts), none where the run has no gate.
 */
export function stageWidth(p: ClusterPlan, stage: Stage): number {
  switch (stage) {
    case "recover":
      return p.recoverShards;
    case "gate":
      return gateCandidatesOfOptions(p.options, p.ipc).length;
    case "relabel":
      return p.relabelShards;
    default:
      return 1;
  }
}

/** The stages the plan runs, in order (a run without a gate skips that stage). */
export function planStages(p: ClusterPlan): Stage[] {
  return STAGES.filter((stage) => stageWidth(p, stage) > 0);
}
