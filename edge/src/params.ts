// Validation of every path and query parameter. Storage keys are built only from the branded
// values returned here, so no request text reaches a key unchecked.
import { ApiError } from "./errors.ts";

declare const brand: unique symbol;
/** A run id that matched RUN_ID (the manifest's rule): safe inside a storage key. */
export type RunId = string & { readonly [brand]: "RunId" };

export const RUN_ID = /^[A-Za-z0-9_-]{1,16}$/;
const DIGITS = /^(0|[1-9][0-9]{0,9})$/;

export function parseRunId(raw: string | undefined): RunId {
  if (raw === undefined || !RUN_ID.test(raw)) {
    throw new ApiError(
      400,
      "BAD_RUN_ID",
      `run id ${JSON.stringify(raw ?? "")} is not valid: use 1–16 characters of A–Z, a–z, 0–9, '_' or '-'`,
    );
  }
  return raw as RunId;
}

/** A decimal integer in [min, max] (no sign, no leading zeros, no exponent). */
export function parseIntParam(name: string, raw: string | undefined, min: number, max: number): number {
  if (raw === undefined || !DIGITS.test(raw)) {
    throw new ApiError(
      400,
      "BAD_PARAM",
      `${name} must be a decimal integer in [${min}, ${max}], got ${JSON.stringify(raw ?? "")}`,
    );
  }
  const v = Number(raw);
  if (v < min || v > max)
    throw new ApiError(400, "BAD_PARAM", `${name} ${v} is out of range: it must be in [${min}, ${max}]`);
  return v;
}

/** Optional boolean query flag: absent, "0" or "1". */
export function parseFlag(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === "0") return false;
  if (raw === "1") return true;
  throw new ApiError(400, "BAD_PARAM", `${name} must be 0 or 1, got ${JSON.stringify(raw)}`);
}
