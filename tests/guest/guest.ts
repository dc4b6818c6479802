/**
 * Running test files inside the systemd guest (tests/guest/build.sh, run.sh)
 * from the host's test run, and reporting each test's result there.
 *
 * A guest test file registers its cases with {@link guestTests}: inside the
 * guest (NOOK_IN_GUEST=1) they are ordinary tests; on the host each becomes a
 * test that boots the guest once (for the whole file), runs the file there as
 * the guest's user in a login session, and passes or fails with that case.
 */
import { exists, ROOT, test } from "../_helpers.ts";

/** True inside the guest. */
export const IN_GUEST = Deno.env.get("NOOK_IN_GUEST") === "1";

/** The guest job's whole time limit (TCG is slow, and CI machines are shared). */
const GUEST_TIMEOUT_S = 2400;

let skipReason: string | undefined | null = null;

/** Why the guest cannot run from this host (undefined when it can). */
export function guestSkip(): string | undefined {
  if (skipReason !== null) return skipReason;
  const why = (): string | undefined => {
    if (Deno.env.get("NOOK_SKIP_GUEST")) return "NOOK_SKIP_GUEST is set";
    if (Deno.uid() === 0) return "running as root; tests/run boots the guest as an unprivileged user";
    if (!["/usr/bin/qemu-system-x86_64", "/bin/qemu-system-x86_64"].some(exists)) {
      return "qemu-system-x86_64 is not installed (apt install qemu-system-x86)";
    }
    if (!exists(`${ROOT}/.deno/node_modules/deno/deno`)) {
      return "Deno is not inside the project (.deno/), so the guest, which sees only the project, cannot run it";
    }
    const check = new Deno.Command(`${ROOT}/tests/guest/build.sh`, {
      args: ["--check"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!check.success) return new TextDecoder().decode(check.stderr).trim() || "the guest image is not built";
    return undefined;
  };
  return (skipReason = why());
}

/** What the guest reported. */
interface GuestRun {
  /** Exit code of `deno test` in the guest (or of run.sh: 124 timeout, 125 no result). */
  code: number;
  /** Each test's verdict by name: ok, FAILED, ignored. */
  verdicts: Map<string, string>;
  /** Everything the guest printed. */
  log: string;
}

const runs = new Map<string, Promise<GuestRun>>();

/** Boot the guest once per file and run that test file in it. */
function runInGuest(file: string): Promise<GuestRun> {
  let p = runs.get(file);
  if (!p) {
    p = (async () => {
      const out = await new Deno.Command(`${ROOT}/tests/guest/run.sh`, {
        args: [
          "--timeout",
          String(GUEST_TIMEOUT_S),
          ".deno/node_modules/deno/deno",
          "test",
          "--allow-all",
          "--no-check",
          "--config",
          "deno.json",
          file,
        ],
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      // deno test's "'NAME' has been running for over (1m0s)" notices split a slow test's
      // "NAME ... ok (1m8s)" line in two: joined again here
      const log = (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr))
        .replace(/ \.\.\.(?:'.*' has been running for over \([^)]*\)\n)+/g, " ...");
      const verdicts = new Map<string, string>();
      for (const line of log.split("\n")) {
        const m = /^(.+) \.\.\. (ok|FAILED|ignored)(?: \(.*\))?$/.exec(line);
        if (m) verdicts.set(m[1]!, m[2]!);
      }
      return { code: out.code, verdicts, log };
    })();
    runs.set(file, p);
  }
  return p;
}

/** The part of the guest's log about one failed test (deno test's ERRORS section), or the log's end. */
function failureText(run: GuestRun, name: string): string {
  const lines = run.log.split("\n");
  const at = lines.findIndex((l) => l.startsWith(`${name} => `));
  if (at >= 0) {
    const end = lines.findIndex((l, i) => i > at && (l.includes(" => ./") || l.trim() === "FAILURES"));
    return lines.slice(at, end < 0 ? at + 40 : end).join("\n");
  }
  return lines.slice(-60).join("\n");
}

/**
 * Register guest test cases: real tests inside the guest; on the host, tests
 * that take their verdict from the guest's run of `file` (a project-relative path).
 */
export function guestTests(file: string, cases: readonly [string, () => Promise<void>][], inGuestSkip?: string): void {
  if (IN_GUEST) {
    for (const [name, fn] of cases) test(name, fn, { skip: inGuestSkip });
    return;
  }
  const skip = guestSkip();
  for (const [name, _fn] of cases) {
    test(`[guest] ${name}`, async () => {
      const run = await runInGuest(file);
      const verdict = run.verdicts.get(name);
      if (verdict === "ok") return;
      throw new Error(
        verdict === undefined
          ? `the guest did not report this test (guest exit code ${run.code}):\n${
            run.log.split("\n").slice(-60).join("\n")
          }`
          : `in the guest: ${verdict}\n${failureText(run, name)}`,
      );
    }, { skip });
  }
}
