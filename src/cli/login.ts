import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "username", short: "u", type: "string", value: "USER", help: "User name" },
  { name: "password", short: "p", type: "string", value: "PASSWORD", help: "Password (prefer --password-stdin)" },
  { name: "password-stdin", type: "bool", help: "Read the password from stdin" },
  { name: "tls-verify", type: "bool", help: "Require HTTPS (--tls-verify=false allows plain HTTP)" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook login`. */
export const spec: CommandSpec = {
  name: "login",
  usage: "login [OPTIONS] REGISTRY",
  summary: "Check credentials with a registry and keep them for pulls (in $XDG_CONFIG_HOME/nook/auth.json, mode 0600).",
  options: OPTIONS,
  examples: ["nook login -u me registry.example.com", 'echo "$TOKEN" | nook login -u me --password-stdin ghcr.io'],
};

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of Deno.stdin.readable) chunks.push(c);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) (all.set(c, o), (o += c.length));
  return new TextDecoder().decode(all).replace(/\r?\n$/, "");
}

/** Log in. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const registry = a.rest[0]?.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (!registry || a.rest.length > 1) throw new UsageError("nook login needs one registry", { hint: spec.usage });
  let username = str(a, "username");
  let password = str(a, "password");
  if (bool(a, "password-stdin")) {
    if (!username) throw new UsageError("--password-stdin needs --username");
    password = await readStdin();
  }
  if (!username) username = prompt("Username:") ?? "";
  if (password === undefined) {
    if (!Deno.stdin.isTerminal()) throw new UsageError("No password given", { hint: "use --password-stdin" });
    password = prompt("Password:") ?? "";
  }
  if (!username || !password) throw new UsageError("A user name and a password are needed");
  const { Registry } = await lazyImport<typeof import("../image/registry.ts")>("image/registry.ts");
  const { saveCredentials } = await lazyImport<typeof import("../image/auth.ts")>("image/auth.ts");
  const client = new Registry(registry, {
    credentials: { username, password },
    ...(a.opts["tls-verify"] === false ? { tlsVerify: false } : {}),
    attempts: 2,
  });
  await client.ping();
  const file = saveCredentials(registry, { username, password });
  await write(`Login Succeeded (credentials in ${file})\n`);
  return 0;
}
