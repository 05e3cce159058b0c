// Teacher capacity from the data: squeeze at the default width, and when that teacher underfits
// (its last epoch's mean training loss stays above UNDERFIT_LOSS) train one twice as wide and
// keep whichever scores better on the held-out split of train. Measured at width 32 (docs/teacher.md):
// MNIST's default teacher ends at 0.018 and `npm start`'s 2-epoch one at 0.066, so easy data costs
// nothing extra; Fashion-MNIST's ends at 0.22 and gets the capacity it lacks. The choice never
// looks at the test set: without a held-out split nothing is widened.
import type { DatasetSplits } from "../data/index.ts";
import type { CompileOptions } from "../runtime/program.ts";
import type { StartProgress } from "./progress.ts";
import { squeeze, type SqueezeConfig, type SqueezeResult } from "./squeeze.ts";

/** Last-epoch mean training loss (cross-entropy on augmented batches) above which a teacher underfits. */
export const UNDERFIT_LOSS = 0.1;

export interface WidthTried {
  width: number;
  /** Mean training loss of the last epoch. */
  last_loss: number;
  /** Held-out top-1 of the weights that teacher kept. */
  holdout?: number;
  /** Its top-1 on the test set: reported, never used to choose. */
  test_accuracy: number;
}

export interface WideningResult {
  /** The teacher kept: the better of the widths tried on the held-out split. */
  kept: SqueezeResult;
  tried: WidthTried[];
}

export function underfits(r: Pick<SqueezeResult, "losses">): boolean {
  return r.losses.length > 0 && r.losses[r.losses.length - 1] > UNDERFIT_LOSS;
}

/** Squeeze at cfg.width; with `widen`, also at twice the width when that teacher underfits. */
export async function squeezeWidening(
  data: DatasetSplits,
  cfg: SqueezeConfig & { width: number },
  widen: boolean,
  o: CompileOptions & { progress?: StartProgress; log?: (line: string) => void } = {},
): Promise<WideningResult> {
  const summary = (r: SqueezeResult): WidthTried => ({
    width: r.note.width!,
    last_loss: r.losses[r.losses.length - 1],
    holdout: r.chosen?.holdout,
    test_accuracy: r.accuracy,
  });
  const first = await squeeze(data, cfg, o);
  const tried = [summary(first)];
  if (!widen || !underfits(first) || !first.chosen) return { kept: first, tried };
  o.log?.(
    `squeeze: width ${cfg.width} underfits (last-epoch training loss ${tried[0].last_loss.toFixed(3)} > ${UNDERFIT_LOSS}); training width ${2 * cfg.width}`,
  );
  const wider = await squeeze(data, { ...cfg, width: 2 * cfg.width }, o);
  tried.push(summary(wider));
  // ties keep the narrower teacher: cheaper for recover and relabel
  return { kept: wider.chosen!.holdout > first.chosen.holdout ? wider : first, tried };
}
