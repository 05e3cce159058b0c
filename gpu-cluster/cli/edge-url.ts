// --edge: the edge service's base URL, checked when parsed. A malformed one otherwise failed only
// after the HTTP client's retries (about 30 s of "Failed to parse URL"), as if the edge were down.
import { InvalidArgumentError } from "commander";

export function edgeUrl(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new InvalidArgumentError(
      `--edge must be the edge's http(s) base URL, e.g. http://127.0.0.1:8787, got '${v}'`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InvalidArgumentError(`--edge must start with http:// or https://, got '${v}'`);
  if (url.search || url.hash || url.username || url.password)
    throw new InvalidArgumentError(
      `--edge is a base URL: no query, fragment or credentials (tokens go in --token / --token-file), got '${v}'`,
    );
  return v.replace(/\/+$/, "");
}
