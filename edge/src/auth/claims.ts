// What a bearer token says: a role, the runs it may touch, when it expires, and an id (jti) by
// which an admin can revoke it.
import { z } from "zod";
import { RUN_ID } from "../params.ts";

export const ROLES = ["admin", "worker", "trainer"] as const;
export type Role = (typeof ROLES)[number];

/** Longest lifetime of a token (and how long a revocation is kept). */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

export const claimsSchema = z
  .object({
    role: z.enum(ROLES),
    /** Run ids this token may touch; "*" (admin only) means all. An admin may be scoped to runs too. */
    runs: z.union([z.literal("*"), z.array(z.string().regex(RUN_ID)).min(1).max(64)]),
    exp: z.number().int().positive(),
    iat: z.number().int().positive(),
    jti: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    sub: z.string().max(128).optional(),
  })
  .refine((c) => c.role === "admin" || c.runs !== "*", {
    message: 'only admin tokens may carry runs "*"; worker and trainer tokens list their runs',
  });

export type TokenClaims = z.infer<typeof claimsSchema>;
