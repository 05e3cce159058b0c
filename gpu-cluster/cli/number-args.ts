// Parsers of numeric flags, shared by every command and results script: a bad value is refused when
// parsed, with commander's "argument … is invalid" line naming the flag, never a stack trace later.
import { InvalidArgumentError } from "commander";

/** A whole number ≥ `min`. */
export const int =
  (name: string, min = 0) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };

export const positive =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`${name} must be a positive number, got '${v}'`);
    return n;
  };

/** A finite number ≥ `min`. */
export const atLeast =
  (name: string, min: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!(v.trim() !== "" && Number.isFinite(n) && n >= min))
      throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got '${v}'`);
    return n;
  };

export const nonNegative = (name: string) => atLeast(name, 0);

/** A share in [0, 1), or in [0, 1] where `upToOne` (--student-hard-phase, --student-hard-smoothing). */
export const fraction =
  (name: string, upToOne = false) =>
  (v: string): number => {
    const n = Number(v);
    if (!(v.trim() !== "" && n >= 0 && (upToOne ? n <= 1 : n < 1)))
      throw new InvalidArgumentError(`${name} must be a number in [0, 1${upToOne ? "]" : ")"}, got '${v}'`);
    return n;
  };

/** An angle in degrees in [0, 180] (--rotate, --recover-rotate). */
export const degrees =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!(v.trim() !== "" && n >= 0 && n <= 180))
      throw new InvalidArgumentError(`${name} must be a number of degrees in [0, 180], got '${v}'`);
    return n;
  };

/** Comma-separated distinct whole numbers, each ≥ `min` (--ipc 1,10,50, --seeds 0,1,2). */
export const intList =
  (flag: string, min: number) =>
  (s: string): number[] => {
    const parts = s.split(",");
    const xs = parts.map((x) => Number(x.trim()));
    const bad = parts.find((x, i) => x.trim() === "" || !Number.isInteger(xs[i]) || xs[i] < min);
    if (bad !== undefined)
      throw new InvalidArgumentError(`${flag} takes comma-separated whole numbers ≥ ${min}, got '${bad}' in '${s}'`);
    const repeated = xs.find((x, i) => xs.indexOf(x) !== i);
    if (repeated !== undefined) throw new InvalidArgumentError(`${flag} lists ${repeated} twice, got '${s}'`);
    return xs;
  };
