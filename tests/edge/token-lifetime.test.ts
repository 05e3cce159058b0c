// Token lifetimes and the signing key (issue 16, items 7 and 8): the server caps exp − iat at
// 30 days whatever the signer wrote, allows a minute of clock skew, checks the signature before
// any claim (a forged token is TOKEN_INVALID, never TOKEN_EXPIRED), keeps revocations as long as
// a token can live, and takes any key of ≥ 32 characters as an HMAC secret (never as PEM).
import { env } from "cloudflare:test";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { app } from "../../edge/src/app.ts";
import { MAX_TTL_SECONDS } from "../../edge/src/auth/claims.ts";
import { CLOCK_SKEW_SECONDS, issueToken } from "../../edge/src/auth/tokens.ts";
import { DEV_SIGNING_KEY } from "../../edge/scripts/dev-key.ts";
import { uniform } from "../../shared/random.ts";
import { call, createRun, errorCode } from "./helpers.ts";

const now = () => Math.floor(Date.now() / 1000);

/** A token signed with `key` (hono/jwt, raw string key) carrying exactly these claims. */
function signed(claims: Record<string, unknown>, key = DEV_SIGNING_KEY): Promise<string> {
  return sign({ role: "admin", runs: "*", jti: crypto.randomUUID().replaceAll("-", ""), ...claims }, key, "HS256");
}

async function statusWith(token: string, run = "nosuchrun"): Promise<string> {
  const r = await call(`/v1/runs/${run}/status`, { token });
  return r.status === 200 ? "200" : `${r.status} ${await errorCode(r)}`;
}

describe("token lifetime and clock skew", () => {
  it("a correctly signed token living longer than 30 days is refused (a century, and 30 days + 1 s)", async () => {
    const t = now();
    expect(await statusWith(await signed({ iat: t, exp: t + 100 * 365 * 86400 }))).toBe("401 TOKEN_INVALID");
    expect(await statusWith(await signed({ iat: t, exp: t + MAX_TTL_SECONDS + 1 }))).toBe("401 TOKEN_INVALID");
    expect(await statusWith(await signed({ iat: t, exp: t + MAX_TTL_SECONDS }))).toBe("404 RUN_NOT_FOUND");
  });

  it("a token issued a few seconds 'in the future' is accepted; beyond the skew allowance it is refused", async () => {
    const t = now();
    expect(await statusWith(await signed({ iat: t + 5, exp: t + 3600 }))).toBe("404 RUN_NOT_FOUND");
    expect(await statusWith(await signed({ iat: t + CLOCK_SKEW_SECONDS + 30, exp: t + 3600 }))).toBe(
      "401 TOKEN_INVALID",
    );
  });

  it("expiry allows the same skew: just expired → accepted, expired beyond the skew → TOKEN_EXPIRED", async () => {
    const t = now();
    expect(await statusWith(await signed({ iat: t - 600, exp: t - 5 }))).toBe("404 RUN_NOT_FOUND");
    expect(await statusWith(await signed({ iat: t - 600, exp: t - CLOCK_SKEW_SECONDS - 30 }))).toBe(
      "401 TOKEN_EXPIRED",
    );
  });

  it("the signature is checked before the claims: a forged token with a past exp is TOKEN_INVALID", async () => {
    const t = now();
    const forged = await signed({ iat: t - 7200, exp: t - 3600 }, "someone-elses-key-of-enough-length-0001");
    expect(await statusWith(forged)).toBe("401 TOKEN_INVALID");
    const forgedFuture = await signed({ iat: t + 3600, exp: t + 7200 }, "someone-elses-key-of-enough-length-0001");
    expect(await statusWith(forgedFuture)).toBe("401 TOKEN_INVALID");
  });

  it("a revocation is kept longer than any accepted token can live", async () => {
    const { runId, admin, trainer } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1 }, "rev");
    const jti = JSON.parse(atob(trainer.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).jti as string;
    const before = now();
    expect((await call(`/v1/tokens/${jti}`, { token: admin, method: "DELETE" })).status).toBe(200);
    expect(await statusWith(trainer, runId)).toBe("401 TOKEN_REVOKED");
    const listed = await env.REVOKED.list({ prefix: `revoked/${jti}` });
    expect(listed.keys).toHaveLength(1);
    // A token accepted now lives at most until iat + MAX_TTL ≤ now + skew + MAX_TTL, plus the skew past exp.
    expect(listed.keys[0].expiration!).toBeGreaterThanOrEqual(before + MAX_TTL_SECONDS + 2 * CLOCK_SKEW_SECONDS);
  });
});

describe("signing key", () => {
  it("keys containing PUBLIC or PRIVATE (random ones of 32–64 characters) sign and verify as HMAC secrets", async () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=";
    for (let t = 0; t < 6; t++) {
      const len = 32 + Math.floor(uniform(21, t) * 33);
      let key = Array.from({ length: len }, (_, i) => alphabet[Math.floor(uniform(22, t, i) * alphabet.length)]).join(
        "",
      );
      const word = t % 2 ? "PUBLIC" : "-----BEGIN PRIVATE KEY-----";
      const at = Math.floor(uniform(23, t) * (len - word.length));
      key = (key.slice(0, at) + word + key.slice(at + word.length)).slice(0, Math.max(len, word.length));
      const { token } = await issueToken(key, { role: "admin", runs: "*", ttlSeconds: 600 });
      const r = await app.fetch(
        new Request("http://edge.test/v1/runs/nosuchrun/status", { headers: { authorization: `Bearer ${token}` } }),
        { ...env, TOKEN_SIGNING_KEY: key },
      );
      expect(`${r.status} ${await errorCode(r)}`, `key ${JSON.stringify(key)}`).toBe("404 RUN_NOT_FOUND");
    }
  });

  it("a key of 31 characters is refused when signing, the same way the edge refuses it", async () => {
    const key = "k".repeat(31);
    await expect(issueToken(key, { role: "admin", runs: "*", ttlSeconds: 60 })).rejects.toMatchObject({
      code: "CONFIG",
    });
  });
});
