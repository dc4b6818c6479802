/**
 * The security decision for one container, made in TypeScript from the
 * user's flags: capability sets, no_new_privs, the compiled seccomp program,
 * masked and read-only paths, LSM labels. libshim only carries it out
 * (see plan_ops.ts for where each piece goes in the plan).
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { compileProfile, defaultFilter, parseProfile, SeccompError } from "../seccomp/mod.ts";
import { capabilityName, capabilityNames, capabilitySets, lastCap } from "./capabilities.ts";
import { apparmorLabel, detectLsm, type ExecLabel, selinuxLabel } from "./lsm.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./masked_paths.ts";

export type { SecuritySpec } from "../model/security.ts";
import type { SecuritySpec } from "../model/security.ts";

/** What the user asked for (docker's flags). */
export interface SecurityRequest {
  /** `--privileged`. */
  privileged?: boolean;
  /** `--cap-add`. */
  capAdd?: readonly string[];
  /** `--cap-drop`. */
  capDrop?: readonly string[];
  /** `--security-opt` values, verbatim. */
  securityOpts?: readonly string[];
  /** uid of the process inside. */
  uid: number;
}

/** The decision plus warnings to show (unknown syscall names in a profile…). */
export interface SecurityDecision {
  /** The decision. */
  security: SecuritySpec;
  /** Lines for stderr. */
  warnings: string[];
}

const SECURITY_OPT_KEYS = ["seccomp", "no-new-privileges", "mask", "unmask", "apparmor", "label", "systempaths"];

/** Split `key=value` (docker also accepts `key:value`). */
function splitOpt(opt: string): [string, string | undefined] {
  const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(opt);
  if (!m || !SECURITY_OPT_KEYS.includes(m[1]!)) {
    throw new UsageError(`Unknown --security-opt "${opt}"`, {
      hint:
        "use seccomp=PROFILE.json|unconfined, no-new-privileges, mask=/p:/q, unmask=ALL|/p, apparmor=NAME, label=..., systempaths=unconfined",
    });
  }
  return [m[1]!, m[2]];
}

function pathList(value: string | undefined, opt: string): string[] {
  const list = (value ?? "").split(":").filter(Boolean);
  if (list.length === 0 || list.some((p) => !p.startsWith("/") && p !== "ALL")) {
    throw new UsageError(`--security-opt ${opt} needs absolute paths separated by ":"`, {
      hint: `e.g. ${opt}=/proc/acpi:/sys/firmware`,
    });
  }
  return list;
}

/** Decide a container's security from docker-style flags. */
export function decideSecurity(req: SecurityRequest): SecurityDecision {
  const warnings: string[] = [];
  let seccomp: string | undefined; // undefined = built-in, "unconfined", or a path
  let nnp = false;
  let systemPaths = true;
  const mask: string[] = [];
  const unmask: string[] = [];
  let apparmor: string | undefined;
  const labels: string[] = [];
  for (const opt of req.securityOpts ?? []) {
    const [key, value] = splitOpt(opt);
    switch (key) {
      case "seccomp":
        if (!value) {
          throw new UsageError(`--security-opt seccomp needs a value`, {
            hint: "seccomp=PROFILE.json or seccomp=unconfined",
          });
        }
        seccomp = value;
        break;
      case "no-new-privileges":
        if (value !== undefined && value !== "true" && value !== "false") {
          throw new UsageError(`--security-opt no-new-privileges takes true or false, not "${value}"`);
        }
        nnp = value !== "false";
        break;
      case "mask":
        mask.push(...pathList(value, "mask"));
        break;
      case "unmask":
        unmask.push(...pathList(value, "unmask"));
        break;
      case "apparmor":
        if (!value) throw new UsageError(`--security-opt apparmor needs a profile name`);
        apparmor = value;
        break;
      case "label":
        if (!value) {
          throw new UsageError(`--security-opt label needs a value`, { hint: "label=disable, label=type:T…" });
        }
        labels.push(value);
        break;
      case "systempaths":
        if (value !== "unconfined") throw new UsageError(`--security-opt systempaths takes only "unconfined"`);
        systemPaths = false;
        break;
    }
  }

  const last = lastCap();
  const capabilities = capabilitySets({
    privileged: req.privileged ?? false,
    add: (req.capAdd ?? []).map((c) => capabilityName(c, "--cap-add")),
    drop: (req.capDrop ?? []).map((c) => capabilityName(c, "--cap-drop")),
    uid: req.uid,
    last,
  });

  let filter: SecuritySpec["seccomp"];
  // --privileged means no filter unless one is named explicitly (podman's rule).
  const useSeccomp = seccomp !== "unconfined" && !(req.privileged && seccomp === undefined);
  if (useSeccomp) {
    const caps = capabilityNames(capabilities.bounding).map((c) => `CAP_${c}`);
    let compiled;
    if (seccomp === undefined) {
      compiled = defaultFilter(caps);
    } else {
      let text: string;
      try {
        text = Deno.readTextFileSync(seccomp);
      } catch (err) {
        throw new SeccompError(`Cannot read the seccomp profile "${seccomp}": ${(err as Error).message}`, {
          path: seccomp,
          hint: "give a readable docker/podman seccomp profile (JSON), or seccomp=unconfined",
          cause: err,
        });
      }
      compiled = compileProfile(parseProfile(text, `"${seccomp}"`), { capabilities: caps, source: `"${seccomp}"` });
    }
    warnings.push(...compiled.warnings.map((w) => `seccomp profile${seccomp ? ` "${seccomp}"` : ""}: ${w}`));
    filter = { program: compiled.program, flags: compiled.flags };
  }

  // --privileged and systempaths=unconfined: nothing masked but what mask= names.
  const unmaskAll = unmask.includes("ALL");
  const keep = (p: string) => !unmaskAll && !unmask.includes(p);
  const confined = systemPaths && !req.privileged;
  const maskedPaths = [...new Set([...(confined ? DEFAULT_MASKED_PATHS.filter(keep) : []), ...mask])];
  const readonlyPaths = confined ? DEFAULT_READONLY_PATHS.filter(keep) : [];

  const execLabels: ExecLabel[] = [];
  if (apparmor !== undefined || labels.length > 0) {
    const lsm = detectLsm();
    const aa = apparmor === undefined ? undefined : apparmorLabel(apparmor, lsm);
    if (aa) execLabels.push(aa);
    const se = selinuxLabel(labels, lsm);
    if (se) execLabels.push(se);
  }

  const security: SecuritySpec = {
    capabilities,
    lastCap: last,
    noNewPrivileges: nnp,
    maskedPaths,
    readonlyPaths,
    execLabels,
  };
  if (filter) security.seccomp = filter;
  return { security, warnings };
}
