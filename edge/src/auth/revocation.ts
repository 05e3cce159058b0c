// Revoked token ids in KV, kept as long as a token can live. KV is eventually consistent and
// its reads are cached at each location for a minute; this isolate also remembers a "not
// revoked" answer for 10 s (it is asked on every request). A revocation takes effect everywhere
// within about a minute, at once in the isolate that made it.
import type { KVNamespace } from "@cloudflare/workers-types/latest/index.ts";
import { BoundedCache } from "../storage/bounded-cache.ts";
import { MAX_TTL_SECONDS } from "./claims.ts";
import { CLOCK_SKEW_SECONDS } from "./tokens.ts";

const key = (jti: string) => `revoked/${jti}`;
const MEMO_MS = 10_000;
const notRevokedUntil = new BoundedCache<string, number>(10_000);

export async function isRevoked(kv: KVNamespace, jti: string): Promise<boolean> {
  const until = notRevokedUntil.get(jti);
  if (until !== undefined && Date.now() < until) return false;
  const revoked = (await kv.get(key(jti), { cacheTtl: 60 })) !== null;
  if (!revoked) notRevokedUntil.set(jti, Date.now() + MEMO_MS);
  return revoked;
}

export async function revoke(kv: KVNamespace, jti: string): Promise<void> {
  // A token lives at most MAX_TTL_SECONDS from an iat at most CLOCK_SKEW_SECONDS ahead, and is
  // accepted CLOCK_SKEW_SECONDS past its exp: the record outlives every token it can match.
  await kv.put(key(jti), new Date().toISOString(), { expirationTtl: MAX_TTL_SECONDS + 3 * CLOCK_SKEW_SECONDS });
  notRevokedUntil.delete(jti);
}
