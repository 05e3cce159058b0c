// The recover gate's candidate image sets, by name, least processed first: what the gate of
// `distill run` trains one full student on each of (gpu-cluster/stages/recover-gate.ts), and what
// the gate stage of a cluster run has one array task per. Pure, so that the edge and the
// dispatcher can size a launch's gate array from its options alone.

/** (b)'s random subset, further random subsets (draw-2, …), recover's starting images, the recovered ones. */
export type GateCandidate = "random" | `draw-${number}` | "start" | "recovered";

/**
 * Random real subsets the gate weighs by default (--gate-draws): several at one image per class,
 * where which image is drawn matters most (Fashion-MNIST IPC 1: 86.5–89.1 % across five draws of
 * one seed, more than recover or selection moved it; docs/ablations.md), else (b)'s alone, since
 * each draw costs a relabel and a full student.
 */
export function defaultGateDraws(ipc: number): number {
  return ipc === 1 ? 5 : 1;
}

/**
 * The candidates in the gate's order: (b)'s random subset (the start itself under --select
 * random), the further draws, the start, the recovered images.
 */
export function gateCandidates(o: { select: string; draws: number; imageBits?: number }): GateCandidate[] {
  const draws = drawNames(o.draws).slice(1);
  // at fewer bits per pixel the start holds more (quantised) images than (b)'s subset: both compete
  const startIsRandom = o.select === "random" && (o.imageBits ?? 8) === 8;
  return startIsRandom ? ["start", ...draws, "recovered"] : ["random", ...draws, "start", "recovered"];
}

/** The names of `n` random draws of a run's size, each its own seeded stream: (b)'s ("random"), draw-2, …, draw-n. */
export function drawNames(n: number): GateCandidate[] {
  return Array.from({ length: n }, (_, i): GateCandidate => (i === 0 ? "random" : `draw-${i + 1}`));
}

/** `distill run`'s defaults of the flags that decide the gate (tests/shared/cluster-plan.test.ts holds them equal). */
export const GATE_FLAG_DEFAULTS = { init: "real", select: "kmeans" } as const;

/**
 * The gate's candidates for a run with these `distill` options (a launch's), or none where the
 * gate is off (--no-recover-gate, or an --init other than real). The run itself may still find
 * no training image left to score on (a tiny dataset): its gate tasks then do nothing.
 */
export function gateCandidatesOfOptions(options: readonly string[], ipc: number): GateCandidate[] {
  const value = (flag: string) => optionValue(options, flag);
  if (options.includes("--no-recover-gate")) return [];
  if ((value("--init") ?? GATE_FLAG_DEFAULTS.init) !== "real") return [];
  const draws = value("--gate-draws");
  const bits = value("--image-bits");
  return gateCandidates({
    select: value("--select") ?? GATE_FLAG_DEFAULTS.select,
    draws: draws === undefined ? defaultGateDraws(ipc) : Number(draws),
    // auto: a cluster run under --select random keeps 8 bits (gpu-cluster/cli/cluster/shards.ts)
    imageBits: bits === undefined || bits === "auto" ? 8 : Number(bits),
  });
}

/** The value of the last `flag` in an option list (as commander reads it), or undefined. */
export function optionValue(options: readonly string[], flag: string): string | undefined {
  const i = options.lastIndexOf(flag);
  return i >= 0 ? options[i + 1] : undefined;
}
