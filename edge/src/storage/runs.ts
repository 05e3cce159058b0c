// Run manifests in R2. A manifest is written once (409 on a second create), so isolates may
// cache it for as long as they live.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import { parseManifest, ManifestError, type RunManifest } from "../../../shared/manifest.ts";
import { ApiError } from "../errors.ts";
import type { RunId } from "../params.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { keys } from "./keys.ts";

const cache = new BoundedCache<string, RunManifest>(256);

/** Validates a manifest body; 400 MANIFEST_INVALID naming every bad field. */
export function validateManifest(json: unknown): RunManifest {
  try {
    return parseManifest(json);
  } catch (e) {
    if (e instanceof ManifestError) throw new ApiError(400, "MANIFEST_INVALID", e.message);
    throw e;
  }
}

export async function createRun(bucket: R2Bucket, run: RunId, manifest: RunManifest): Promise<void> {
  const key = keys.manifest(run);
  // Create-only (R2 If-None-Match: *): of two creates racing for one id, exactly one succeeds.
  const put = await bucket.put(key, JSON.stringify(manifest, null, 2), {
    onlyIf: { etagDoesNotMatch: "*" },
    httpMetadata: { contentType: "application/json" },
  });
  if (!put) throw new ApiError(409, "RUN_EXISTS", `run ${run} already exists; runs are immutable: create a new run id`);
  cache.set(run, manifest);
}

/** The run's manifest; 404 RUN_NOT_FOUND if it was never created. */
export async function loadManifest(bucket: R2Bucket, run: RunId): Promise<RunManifest> {
  const hit = cache.get(run);
  if (hit) return hit;
  const obj = await bucket.get(keys.manifest(run));
  if (!obj)
    throw new ApiError(404, "RUN_NOT_FOUND", `run ${run} does not exist: an admin creates it with POST /v1/runs`);
  const manifest = parseManifest(await obj.json());
  cache.set(run, manifest);
  return manifest;
}
