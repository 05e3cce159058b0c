// Signing and checking HS256 bearer tokens. The key is imported once per isolate as an HMAC
// CryptoKey (hono/jwt would read a string containing "PUBLIC" or "PRIVATE" as PEM). The
// signature is checked before any claim, so a forged token always answers TOKEN_INVALID; the
// claims (lifetime cap, clock skew) are then checked here. Library errors carry the token in
// their message, so they are mapped to our codes and never passed on or logged.
import { sign, verify } from "hono/jwt";
import { ApiError } from "../errors.ts";
import { claimsSchema, MAX_TTL_SECONDS, type Role, type TokenClaims } from "./claims.ts";

export const MIN_KEY_LENGTH = 32;
/** Clocks of the signer and of the edge may differ by this much (seconds). */
export const CLOCK_SKEW_SECONDS = 60;

const imported = new Map<string, Promise<CryptoKey>>();

/** Why a raw signing key cannot be used, or null. The token script applies the same rule. */
export function signingKeyProblem(raw: string | undefined): string | null {
  if (!raw) return "TOKEN_SIGNING_KEY is not set";
  if (raw.length < MIN_KEY_LENGTH) return `TOKEN_SIGNING_KEY has ${raw.length} characters; it needs ${MIN_KEY_LENGTH}`;
  return null;
}

/** The HMAC key for `raw`, imported once; 500 CONFIG when it is missing or too short. */
export function signingKey(raw: string | undefined): Promise<CryptoKey> {
  const problem = signingKeyProblem(raw);
  if (problem || raw === undefined) {
    throw new ApiError(
      500,
      "CONFIG",
      `the service's ${problem ?? "key is not set"}: its operator sets one of ≥ ${MIN_KEY_LENGTH} characters with \`wrangler secret put TOKEN_SIGNING_KEY\` (or --var for wrangler dev)`,
    );
  }
  let key = imported.get(raw);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(raw), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    imported.set(raw, key);
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
  rawKey: string | undefined,
  req: TokenRequest,
  now = Math.floor(Date.now() / 1000),
): Promise<{ token: string; claims: TokenClaims }> {
  const key = await signingKey(rawKey);
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

/**
 * The claims of a valid token; 401 TOKEN_MISSING / TOKEN_INVALID / TOKEN_EXPIRED otherwise.
 * Valid: signed with `key` (checked first), claims of the schema, issued at most
 * CLOCK_SKEW_SECONDS in the future, living at most MAX_TTL_SECONDS, not expired (with the skew).
 */
export async function verifyBearer(
  key: Promise<CryptoKey>,
  authorization: string | undefined,
  now = Math.floor(Date.now() / 1000),
): Promise<TokenClaims> {
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
    // Signature and header only: hono's own time checks run before the signature and allow no skew.
    payload = await verify(m[1], await key, { alg: "HS256", exp: false, iat: false, nbf: false });
  } catch {
    throw new ApiError(401, "TOKEN_INVALID", "the token's signature or format is not valid");
  }
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success)
    throw new ApiError(401, "TOKEN_INVALID", "the token's claims are not valid (role, runs, exp, iat, jti)");
  const claims = parsed.data;
  if (claims.exp <= claims.iat || claims.exp - claims.iat > MAX_TTL_SECONDS)
    throw new ApiError(
      401,
      "TOKEN_INVALID",
      `the token's lifetime (exp − iat) must be in (0, ${MAX_TTL_SECONDS}] seconds: ask an admin for a new one`,
    );
  if (claims.iat > now + CLOCK_SKEW_SECONDS)
    throw new ApiError(
      401,
      "TOKEN_INVALID",
      "the token was issued in the future (iat): check the signer's clock, or ask an admin for a new one",
    );
  if (claims.exp + CLOCK_SKEW_SECONDS <= now)
    throw new ApiError(401, "TOKEN_EXPIRED", "the token has expired: ask an admin for a new one");
  return claims;
}
