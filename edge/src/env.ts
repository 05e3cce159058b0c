// The Worker's bindings (wrangler.toml) and the per-request variables routes read.
import type { DurableObjectNamespace, KVNamespace, R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import type { TokenClaims } from "./auth/claims.ts";

export interface Env {
  /** Images, label-table shards, manifests (storage/keys.ts says where). */
  BUCKET: R2Bucket;
  /** Revoked token ids (jti → expiry), so a leaked token can be cut off before it expires. */
  REVOKED: KVNamespace;
  /** One RunPublisher per run: serialises publishing and quarantining its label-table shards. */
  PUBLISHER: DurableObjectNamespace;
  /** Cluster launches (storage/launch-board.ts): one instance holds them all. */
  LAUNCHES: DurableObjectNamespace;
  /** HS256 key of the bearer tokens: `wrangler secret put TOKEN_SIGNING_KEY` in production. */
  TOKEN_SIGNING_KEY?: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { claims: TokenClaims };
}
