// Authentication for every /v1 route, and the two authorisation checks routes make: role and
// run scope. 401 means "who are you?", 403 "you may not".
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import type { RunId } from "../params.ts";
import type { Role, TokenClaims } from "./claims.ts";
import { signingKey, verifyBearer } from "./tokens.ts";
import { isRevoked } from "./revocation.ts";

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  // The key first: a service without a usable key refuses every request the same way.
  const key = signingKey(c.env.TOKEN_SIGNING_KEY);
  const claims = await verifyBearer(key, c.req.header("authorization"));
  if (await isRevoked(c.env.REVOKED, claims.jti))
    throw new ApiError(401, "TOKEN_REVOKED", "the token was revoked: ask an admin for a new one");
  c.set("claims", claims);
  await next();
};

/** The caller's claims if its role is one of `roles`, else 403 FORBIDDEN_ROLE. */
export function requireRole(c: Context<AppEnv>, ...roles: Role[]): TokenClaims {
  const claims = c.get("claims");
  if (!roles.includes(claims.role)) {
    throw new ApiError(
      403,
      "FORBIDDEN_ROLE",
      `this route needs the role ${roles.join(" or ")}; the token has role ${claims.role}`,
    );
  }
  return claims;
}

/** 403 FORBIDDEN_RUN unless the token's scope includes `run`. */
export function requireRun(claims: TokenClaims, run: RunId): void {
  if (claims.runs !== "*" && !claims.runs.includes(run)) {
    throw new ApiError(403, "FORBIDDEN_RUN", `the token is not scoped to run ${run}`);
  }
}
