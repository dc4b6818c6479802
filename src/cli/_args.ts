import { UsageError } from "../errors/mod.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

/** One option of a command, as the table that drives parsing, --help and completions. */
export interface OptionSpec {
  /** Long name without dashes: "env". */
  name: string;
  /** One-letter short name: "e". */
  short?: string;
  /** bool takes no value; string takes one value (given twice is an error); list keeps all. */
  type: "bool" | "string" | "list";
  /** Placeholder in help: "KEY=VALUE". */
  value?: string;
  /** One line of help. */
  help: string;
  /** What to complete the value with. */
  complete?: "file" | "dir" | "container" | "image";
  /** The values it takes, when they are a fixed list (completions offer them). */
  choices?: readonly string[];
}

/** Parsed options and positional arguments. */
export interface ParsedArgs {
  /** Options by long name: boolean, string, or string[] for lists. */
  opts: Record<string, boolean | string | string[]>;
  /** Positional arguments (for `run`: image and command, untouched). */
  rest: string[];
}

/**
 * docker-style parsing: options come first; at the first positional argument
 * (when `stopAtPositional`) everything after it is passed through untouched.
 * Supports `--name value`, `--name=value`, `-e value`, `-eVALUE`, `-it`, `--`.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], stopAtPositional = true): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const opts: ParsedArgs["opts"] = {};
  const rest: string[] = [];
  const set = (spec: OptionSpec, value: string | boolean) => {
    if (spec.type === "list") ((opts[spec.name] ??= []) as string[]).push(String(value));
    else if (spec.type === "string" && typeof opts[spec.name] === "string") {
      // silently keeping one of two values hides a mistake (which --name did the user mean?)
      throw new UsageError(`Flag "--${spec.name}" was given twice ("${opts[spec.name]}" and "${value}")`, {
        hint: `give --${spec.name} once`,
      });
    } else opts[spec.name] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const takeValue = (spec: OptionSpec, flag: string): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`Flag "${flag}" needs a value`, { hint: help(spec) });
      return v;
    };
    if (arg === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw unknown(arg, specs);
      if (spec.type === "bool") {
        if (eq >= 0) {
          const v = arg.slice(eq + 1);
          if (v !== "true" && v !== "false") throw new UsageError(`Flag "--${name}" takes true or false, not "${v}"`);
          set(spec, v === "true");
        } else set(spec, true);
      } else set(spec, eq >= 0 ? arg.slice(eq + 1) : takeValue(spec, arg));
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const spec = byShort.get(arg[j]!);
        if (!spec) throw unknown(`-${arg[j]}`, specs);
        if (spec.type === "bool") {
          set(spec, true);
          continue;
        }
        const attached = arg.slice(j + 1);
        set(spec, attached ? attached.replace(/^=/, "") : takeValue(spec, `-${arg[j]}`));
        break;
      }
      continue;
    }
    rest.push(arg);
    if (stopAtPositional) {
      rest.push(...argv.slice(i + 1));
      break;
    }
  }
  return { opts, rest };
}

function help(spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ""}--${spec.name}${spec.value ? ` ${spec.value}` : ""}: ${spec.help}`;
}

function unknown(flag: string, specs: readonly OptionSpec[]): UsageError {
  const name = flag.replace(/^-+/, "").split("=")[0]!;
  const close = specs.find((s) => s.name.startsWith(name) || name.startsWith(s.name));
  return new UsageError(`Unknown flag "${flag}"`, { hint: close ? `did you mean --${close.name}?` : "see --help" });
}

/** String value of an option, or undefined. */
export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.opts[name];
  return typeof v === "string" ? v : undefined;
}

/** Boolean value of an option (false when absent). */
export function bool(a: ParsedArgs, name: string): boolean {
  return a.opts[name] === true;
}

/** All values of a list option. */
export function list(a: ParsedArgs, name: string): string[] {
  const v = a.opts[name];
  return Array.isArray(v) ? v : [];
}

/** Help text for a command from its table. */
export function formatHelp(
  cmd: { name: string; usage: string; summary: string; options: readonly OptionSpec[]; examples?: readonly string[] },
): string {
  const lines = [`Usage: nook ${cmd.usage}`, "", cmd.summary, ""];
  if (cmd.options.length) {
    lines.push("Options:");
    const left = cmd.options.map((o) =>
      `  ${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.value ? ` ${o.value}` : ""}`
    );
    const w = Math.min(36, Math.max(...left.map((l) => l.length)) + 2);
    cmd.options.forEach((o, i) => lines.push(left[i]!.padEnd(w) + o.help));
    lines.push("");
  }
  if (cmd.examples?.length) {
    lines.push("Examples:", ...cmd.examples.map((e) => `  ${e}`), "");
  }
  return lines.join("\n");
}

/** `--help`, which every command has. */
export const HELP: OptionSpec = { name: "help", type: "bool", help: "Show this help" };

/** Parse a command's arguments by its table; undefined when --help was asked for (and has been printed). */
export async function parseCommand(
  argv: string[],
  spec: CommandSpec,
  stopAtPositional = false,
): Promise<ParsedArgs | undefined> {
  const a = parseArgs(argv, spec.options, stopAtPositional);
  if (!bool(a, "help")) return a;
  await write(formatHelp(spec));
  return undefined;
}
