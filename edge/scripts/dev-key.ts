// The token signing key of local development and tests ONLY (package.json edge:dev passes the
// same value with --var). Production keys are set with `wrangler secret put TOKEN_SIGNING_KEY`.
export const DEV_SIGNING_KEY = "distill-dev-signing-key-local-only-0001";
