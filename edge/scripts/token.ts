// Signs a bearer token for the edge: `npx tsx edge/scripts/token.ts <admin|worker|trainer> <runs|*> [--ttl s]`.
// Uses TOKEN_SIGNING_KEY from the environment, else the local development key (wrangler dev,
// tests). Bootstraps the first admin token; further tokens come from POST /v1/tokens.
import { Command } from "commander";
import { ROLES, type Role } from "../src/auth/claims.ts";
import { issueToken, signingKeyProblem } from "../src/auth/tokens.ts";
import { DEV_SIGNING_KEY } from "./dev-key.ts";

const program = new Command()
  .name("token")
  .argument("<role>", `one of ${ROLES.join(", ")}`)
  .argument("<runs>", "comma-separated run ids, or * (admin)")
  .option("--ttl <seconds>", "lifetime in seconds", "3600")
  .option("--sub <name>", "who the token is for (kept in its claims)")
  .action(async (role: string, runs: string, o: { ttl: string; sub?: string }) => {
    if (!(ROLES as readonly string[]).includes(role))
      program.error(`role must be one of ${ROLES.join(", ")}, got '${role}'`);
    const key = process.env.TOKEN_SIGNING_KEY ?? DEV_SIGNING_KEY;
    // The edge refuses such a key at every request: refuse it here, before a token is handed out.
    const problem = signingKeyProblem(key);
    if (problem) program.error(`cannot sign: ${problem} (the edge uses the same key and would refuse it)`);
    try {
      const { token } = await issueToken(key, {
        role: role as Role,
        runs: runs === "*" ? "*" : runs.split(","),
        ttlSeconds: Number(o.ttl),
        sub: o.sub,
      });
      process.stdout.write(`${token}\n`);
    } catch (e) {
      program.error(`cannot sign this token: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

await program.parseAsync();
