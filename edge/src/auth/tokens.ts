// Signing and checking HS256 bearer tokens (hono/jwt). Library errors carry the token in their
// message, so they are mapped to our codes here and never passed on or logged.
import { sign, verify } from "hono/jwt";
import { ApiError } from "../errors.ts";
import { claimsSchema, MAX_TTL_SECONDS, type Role, type TokenClaims } from "./claims.ts";

export const MIN_KEY_LENGTH = 32;

export function signingKey(key: string | undefined): string {
  if (!key || key.length < MIN_KEY_LENGTH) {
    throw new ApiError(
      500,
      "CONFIG",
      `TOKEN_SIGNING_KEY is missing or shorter than ${MIN_KEY_LENGTH} characters: set it with \`wrangler secret put TOKEN_SIGNING_KEY\` (or --var for wrangler dev)`,
    );
  }
  return key;
}

export interface TokenRequest {
  role: Role;
  runs: string[] | "*";
  ttlSeconds: number;
  sub?: string;
}

export async function issueToken(
  key: string,
  req: TokenRequest,
  now = Math.floor(Date.now() / 1000),
): Promise<{ token: string; claims: TokenClaims }> {
  if (!(Number.isInteger(req.ttlSeconds) && req.ttlSeconds >= 1 && req.ttlSeconds <= MAX_TTL_SECONDS)) {
    throw new ApiError(400, "BAD_PARAM", `ttlSeconds must be an integer in [1, ${MAX_TTL_SECONDS}]`);
  }
  const jti = crypto.randomUUID().replaceAll("-", "");
  const claims = claimsSchema.parse({
    role: req.role,
    runs: req.runs,
    iat: now,
    exp: now + req.ttlSeconds,
    jti,
    ...(req.sub ? { sub: req.sub } : {}),
  });
  return { token: await sign({ ...claims }, key, "HS256"), claims };
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** The claims of a valid, unexpired token; 401 with TOKEN_MISSING / TOKEN_INVALID / TOKEN_EXPIRED otherwise. */
export async function verifyBearer(key: string, authorization: string | undefined): Promise<TokenClaims> {
  if (!authorization)
    throw new ApiError(
      401,
      "TOKEN_MISSING",
      "send `Authorization: Bearer <token>`; an admin issues tokens with POST /v1/tokens",
    );
  const m = BEARER.exec(authorization);
  if (!m) throw new ApiError(401, "TOKEN_INVALID", "the Authorization header must be `Bearer <jwt>`");
  let payload: unknown;
  try {
    payload = await verify(m[1], key, "HS256");
  } catch (e) {
    // hono/jwt does not export its error classes; their names are stable.
    if (e instanceof Error && e.name === "JwtTokenExpired")
      throw new ApiError(401, "TOKEN_EXPIRED", "the token has expired: ask an admin for a new one");
    throw new ApiError(401, "TOKEN_INVALID", "the token's signature or format is not valid");
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success)
    throw new ApiError(401, "TOKEN_INVALID", "the token's claims are not valid (role, runs, exp, iat, jti)");
  return claims.data;
}
