// State of a step graph: a value fed as an input each run and replaced by an output after it
// (weights, optimiser moments, BN running statistics, synthetic images). Graph builders above
// (models, autodiff) declare these; the runtime threads them between runs.
import type { TensorData, Value } from "./types.ts";

/** A state value: read from `input` each step, replaced by `output` after it, `init` before the first. */
export interface StateBinding {
  input: Value;
  output: Value;
  init: TensorData;
}
