// Workers-only globals (not in the DOM lib the project type-checks against), typed from
// @cloudflare/workers-types' module form so the rest of the project keeps its own globals.
import type { DigestStream, FixedLengthStream } from "@cloudflare/workers-types/latest/index.ts";

interface WorkersGlobals {
  FixedLengthStream: typeof FixedLengthStream;
  crypto: { DigestStream: typeof DigestStream };
}

const g = globalThis as unknown as WorkersGlobals;

/** A streaming SHA-256 (native in Workers). */
export const newSha256Stream = (): DigestStream => new g.crypto.DigestStream("SHA-256");

/** A pass-through stream of a known length, which R2 needs to accept a streamed put. */
export const newFixedLengthStream = (length: number): FixedLengthStream => new g.FixedLengthStream(length);

export function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}
