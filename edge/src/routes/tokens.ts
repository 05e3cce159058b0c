// POST /v1/tokens (admin): issue a token for a role and its runs. DELETE /v1/tokens/:jti
// (admin): revoke one before it expires.
import { Hono } from "hono";
import { z } from "zod";
import { MAX_TTL_SECONDS, ROLES } from "../auth/claims.ts";
import { requireRole } from "../auth/middleware.ts";
import { revoke } from "../auth/revocation.ts";
import { issueToken } from "../auth/tokens.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { RUN_ID } from "../params.ts";
import { readJson } from "./json-body.ts";

const tokenRequest = z
  .object({
    role: z.enum(ROLES),
    runs: z.union([
      z.literal("*"),
      z.array(z.string().regex(RUN_ID, "run ids are 1–16 characters of A–Z, a–z, 0–9, '_' or '-'")).min(1).max(64),
    ]),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_TTL_SECONDS)
      .default(24 * 3600),
    sub: z.string().min(1).max(128).optional(),
  })
  .strict();

export const tokenRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const caller = requireRole(c, "admin");
    const parsed = tokenRequest.safeParse(await readJson(c));
    if (!parsed.success) {
      throw new ApiError(
        400,
        "BAD_PARAM",
        `token request: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}`,
      );
    }
    const req = parsed.data;
    if (req.role !== "admin" && req.runs === "*") {
      throw new ApiError(
        400,
        "BAD_PARAM",
        'runs "*" is for admin tokens only; worker and trainer tokens take a list of run ids',
      );
    }
    // an admin scoped to some runs issues tokens for those runs only
    if (caller.runs !== "*" && (req.runs === "*" || req.runs.some((r) => !caller.runs.includes(r))))
      throw new ApiError(
        403,
        "FORBIDDEN_RUN",
        "this admin token is scoped to its runs: it issues tokens for those runs only",
      );
    const { token, claims } = await issueToken(c.env.TOKEN_SIGNING_KEY, req);
    return c.json({ token, claims }, 201);
  })
  .delete("/:jti", async (c) => {
    const caller = requireRole(c, "admin");
    if (caller.runs !== "*")
      throw new ApiError(403, "FORBIDDEN_RUN", 'revoking a token needs an admin token for all runs (runs "*")');
    const jti = c.req.param("jti");
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(jti))
      throw new ApiError(
        400,
        "BAD_PARAM",
        "jti must be the token id from its claims (8–64 characters of A–Z, a–z, 0–9, '_' or '-')",
      );
    await revoke(c.env.REVOKED, jti);
    return c.json({ revoked: jti });
  });
