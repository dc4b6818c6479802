/**
 * A container made and not started (`nook create`): the same request, source, storage and
 * transaction as `run` (record directory and intent first, storage, then the record and the
 * name), ending with the record instead of a process. Its status file does not exist yet, which
 * reads as "created"; `start` (detached, or attached with `start -a`) runs it from the record
 * with the limits and network it was created with.
 *
 * @module
 */
import { detectIdMapping, type IdMapping } from "../userns/mod.ts";
import { createContainer } from "./create.ts";
import { clearIntent, crashPoint } from "./intent.ts";
import { describeSource, hostSettings } from "./lifecycle.ts";
import { applyCdi, newId, prepareContainer, prepareShift, prepareSource } from "./prepare.ts";
import { resolveUserns } from "./userns.ts";
import { resourcesFrom } from "./resources.ts";
import type { RunRequest } from "./run_request.ts";
import { writeRecord } from "./store.ts";

/**
 * Prepare and record a new container without starting it; resolves with its id. The
 * container is a transaction until its intent is cleared: a nook killed before that leaves
 * nothing that the next sweep does not roll back.
 */
export async function createRequest(req: RunRequest, mapping: IdMapping = detectIdMapping()): Promise<string> {
  // A created container is started later (detached or attached), so a restart policy is allowed
  // as for -d; whether it runs attached is the choice of `start`.
  const lifecycle = { ...req.lifecycle, detach: true };
  await prepareSource(req);
  const id = newId();
  const mode = resolveUserns(req, mapping, id);
  await prepareShift(req, mode);
  const withCdi = await applyCdi(req, mode);
  const { spec, cleanup } = prepareContainer({ ...withCdi.req, lifecycle }, mapping, mode, id);
  // its CDI hooks run at each start (start.ts)
  if (withCdi.hooks) spec.createHooks = withCdi.hooks;
  try {
    const host = hostSettings(lifecycle, spec.image?.stopSignal, spec.image?.healthcheck);
    const rec = createContainer(spec, {
      name: req.name,
      ...describeSource(req.source, spec),
      host,
      keepEtcFiles: true,
    });
    // the limits it is started with: start reads them from the record, as after a restart
    rec.resources = resourcesFrom(req.resources ?? {});
    writeRecord(rec);
    crashPoint("create.record");
    clearIntent(rec.id);
    return rec.id;
  } finally {
    await cleanup();
  }
}
