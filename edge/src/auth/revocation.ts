// Revoked token ids in KV, kept as long as a token can live. KV is eventually consistent and
// reads are cached at each location for a minute: a revocation takes effect everywhere within
// about a minute.
import type { KVNamespace } from "@cloudflare/workers-types/latest/index.ts";
import { MAX_TTL_SECONDS } from "./claims.ts";

const key = (jti: string) => `revoked/${jti}`;

export async function isRevoked(kv: KVNamespace, jti: string): Promise<boolean> {
  return (await kv.get(key(jti), { cacheTtl: 60 })) !== null;
}

export async function revoke(kv: KVNamespace, jti: string): Promise<void> {
  await kv.put(key(jti), new Date().toISOString(), { expirationTtl: MAX_TTL_SECONDS });
}
