// Comma-separated whole numbers for the scripts' list flags (--ipc 1,10,50, --seeds 0,1,2),
// refused when parsed with commander's "argument … is invalid" line rather than a stack trace.
import { InvalidArgumentError } from "commander";

/** A parser of `flag`'s comma-separated whole numbers, each at least `min`; duplicates refused. */
export const intList =
  (flag: string, min: number) =>
  (s: string): number[] => {
    const xs = s.split(",").map((x) => Number(x.trim()));
    const bad = s.split(",").find((x, i) => x.trim() === "" || !Number.isInteger(xs[i]) || xs[i] < min);
    if (bad !== undefined)
      throw new InvalidArgumentError(`${flag} takes comma-separated whole numbers ≥ ${min}, got '${bad}' in '${s}'`);
    const repeated = xs.find((x, i) => xs.indexOf(x) !== i);
    if (repeated !== undefined) throw new InvalidArgumentError(`${flag} lists ${repeated} twice, got '${s}'`);
    return xs;
  };
