// The run manifest: what a distilled run is (dataset, classes, IPC, resolution, relabel
// schedule, seeds, teacher). Written by the gpu-cluster, validated wherever it is read (edge,
// inspector, clients). Image i of a run has class floor(i / ipc).
import { z } from "zod";

const id = z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, "ids are 1–16 characters of A–Z, a–z, 0–9, '_' or '-'");
const u32 = z.number().int().min(0).max(0xffffffff);
const pos = z.number().int().positive();
const text = (max: number) => z.string().min(1).max(max);

/**
 * Upper bounds of a run, so that no manifest can make a reader allocate or scan without limit
 * (the edge's status and batch routes size arrays by images and epochs). Generous: ImageNet-21k
 * at IPC 50 is 1.1 M images; the longest relabel schedule (IPC 1, 2 classes, ≥ 300 000 crops) is
 * 150 000 epochs; 4096 px is 18× ImageNet's 224.
 */
export const MANIFEST_LIMITS = {
  images: 2 ** 21,
  epochs: 1_000_000,
  classes: 65535,
  side: 4096,
  channels: 4,
} as const;
const side = pos.max(MANIFEST_LIMITS.side);

export const cropScheduleSchema = z.object({
  seed: u32,
  sourceSize: side,
  outputSize: side,
  scale: z
    .tuple([z.number().positive().max(1), z.number().positive().max(1)])
    .refine(([a, b]) => a <= b, "scale must be [lo, hi] with lo ≤ hi"),
  ratio: z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= b, "ratio must be [lo, hi] with lo ≤ hi"),
  flipProb: z.number().min(0).max(1),
  rotate: z.number().min(0).max(180).optional(),
  mix: z.object({
    kind: z.enum(["none", "cutmix", "mixup"]),
    alpha: z.number().positive(),
    prob: z.number().min(0).max(1),
  }),
});

export const runManifestSchema = z
  .object({
    version: z.literal(1),
    runId: id,
    createdAt: z.string().max(64),
    dataset: z.object({
      name: text(256),
      classes: z.number().int().min(1).max(MANIFEST_LIMITS.classes),
      channels: pos.max(MANIFEST_LIMITS.channels),
      height: side,
      width: side,
      classNames: z.array(z.string().max(256)).max(MANIFEST_LIMITS.classes).optional(),
    }),
    ipc: pos.max(MANIFEST_LIMITS.images),
    images: pos.max(MANIFEST_LIMITS.images),
    resolution: side,
    relabel: z.object({
      epochs: pos.max(MANIFEST_LIMITS.epochs),
      cropsPerImage: z.number().int().min(1).max(65535),
      k: z.number().int().min(1).max(255),
      quant: z.enum(["u8", "f16"]),
      /** Soft labels are softmax(logits / temperature); students use the same temperature. */
      temperature: z.number().positive().default(1),
      schedule: cropScheduleSchema,
    }),
    seeds: z.object({ run: u32, recover: u32.optional(), relabel: u32.optional() }),
    teacher: z.object({
      id: text(256),
      arch: text(256),
      sha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
      accuracy: z.number().min(0).max(1).optional(),
      /** First-stage width of a teacher squeeze trained; students of its family default to it. */
      width: z.number().int().positive().optional(),
    }),
  })
  .superRefine((m, ctx) => {
    if (m.images !== m.dataset.classes * m.ipc)
      ctx.addIssue({
        code: "custom",
        path: ["images"],
        message: `must equal dataset.classes × ipc = ${m.dataset.classes * m.ipc}`,
      });
    if (m.relabel.k > m.dataset.classes)
      ctx.addIssue({
        code: "custom",
        path: ["relabel", "k"],
        message: `must be ≤ dataset.classes (${m.dataset.classes})`,
      });
    if (m.dataset.classNames && m.dataset.classNames.length !== m.dataset.classes)
      ctx.addIssue({
        code: "custom",
        path: ["dataset", "classNames"],
        message: `must have dataset.classes (${m.dataset.classes}) names`,
      });
  });

export type RunManifest = z.infer<typeof runManifestSchema>;

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

/** Validates a parsed manifest; the error lists every bad field with what it must be. */
export function parseManifest(json: unknown): RunManifest {
  const r = runManifestSchema.safeParse(json);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ManifestError(`invalid run manifest (fix these fields and retry):\n  ${problems.join("\n  ")}`);
}

export function targetClass(m: Pick<RunManifest, "ipc">, image: number): number {
  return Math.floor(image / m.ipc);
}
