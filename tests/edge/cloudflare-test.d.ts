// The parts of the `cloudflare:test` module (@cloudflare/vitest-plugin) these tests use,
// typed without pulling the Workers globals into the whole project's type-check.
declare module "cloudflare:test" {
  export const SELF: { fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> };
  export const env: import("../../edge/src/env.ts").Env;
}
