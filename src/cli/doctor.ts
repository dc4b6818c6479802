import { UsageError } from "../errors/mod.ts";
import { apparmorProfile, formatReport, hostInputs, runDoctor } from "../doctor/mod.ts";
import { bool, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

/** `nook doctor`. */
export const spec: CommandSpec = {
  name: "doctor",
  usage: "doctor [OPTIONS]",
  summary: "Check this host for rootless containers: user namespaces (with a trial container), newuidmap and " +
    "/etc/subuid ranges, XDG_RUNTIME_DIR, cgroups, overlay and fuse-overlayfs, networking tools, seccomp and the " +
    "config file. Each check shows ✓, ✗ (nook run cannot work) or ! (works with less), the reason, and the exact " +
    "fix. Exits 0 when nook run works here, 1 when it cannot.",
  options: [
    { name: "format", type: "string", value: "FORMAT", help: "table (default) or json", choices: ["table", "json"] },
    { name: "no-trial", type: "bool", help: "Do not start trial containers (clone, overlay and fuse-overlayfs mounts)" },
    { name: "apparmor-profile", type: "bool", help: "Print the AppArmor profile that lets nook create user namespaces" },
    { name: "help", type: "bool", help: "Show this help" },
  ],
  examples: [
    "nook doctor",
    "nook doctor --format json | jq '.checks[] | select(.status != \"ok\")'",
    "nook doctor --apparmor-profile | sudo tee /etc/apparmor.d/nook",
  ],
  positional: "none",
};

/** Run the checks and print them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length) throw new UsageError(`"nook doctor" takes no arguments, got "${a.rest[0]}"`, { hint: "see nook doctor --help" });
  if (bool(a, "apparmor-profile")) return write(apparmorProfile(hostInputs().nookPath)).then(() => 0);
  const format = str(a, "format") ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use --format table or --format json" });
  }
  const report = await runDoctor({ trials: !bool(a, "no-trial") });
  if (format === "json") await write(JSON.stringify(report, null, 2) + "\n");
  else await write(formatReport(report, Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR")));
  return report.ok ? 0 : 1;
}
