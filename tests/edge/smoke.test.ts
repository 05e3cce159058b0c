import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("answers", async () => {
  const r = await SELF.fetch("http://edge/v1/runs/x/manifest");
  expect(r.status).toBe(401);
  expect(await r.json()).toMatchObject({ error: { code: "TOKEN_MISSING" } });
});
