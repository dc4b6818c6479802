import { UsageError } from "../errors/mod.ts";
import { flagChoices } from "../config/mod.ts";
import { HELLO_NAMES } from "../image/builtin_hello.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import { ALIASES, COMMANDS, type CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

/** The shells nook writes completions for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** What kind of name a completion asks for. */
export type NameKind = "container" | "image";

/**
 * Where completions find container and image names. Each concern that owns
 * names adds its lister here (local images, containers); the lists
 * are merged. `nook completion __names KIND` prints them for the scripts.
 */
export const NAME_PROVIDERS: Record<NameKind, (() => Promise<readonly string[]>)[]> = {
  container: [],
  image: [() => Promise.resolve(HELLO_NAMES)],
};

/** `nook completion`. */
export const spec: CommandSpec = {
  name: "completion",
  usage: "completion bash|zsh|fish",
  summary: "Print the shell completion script for bash, zsh or fish. It is generated from nook's own command " +
    "table, so it knows every command, option and option value, and it asks nook for container and image names.",
  options: [{ name: "help", type: "bool", help: "Show this help" }],
  examples: [
    "source <(nook completion bash)                                          # bash, now",
    "nook completion bash > ~/.local/share/bash-completion/completions/nook  # bash, from now on",
    "nook completion zsh > \"${fpath[1]}/_nook\"                               # zsh (then restart it)",
    "nook completion fish > ~/.config/fish/completions/nook.fish             # fish",
  ],
  positional: "none",
  choices: SHELLS,
};

/** A command as the completion scripts see it. */
export interface CompletionCommand {
  /** Name. */
  name: string;
  /** One line for menus. */
  summary: string;
  /** Options, with `choices` filled in where known. */
  options: readonly OptionSpec[];
  /** What the positional arguments are. */
  positional: NonNullable<CommandSpec["positional"]>;
  /** Fixed words of the first positional argument. */
  choices?: readonly string[];
}

/**
 * Every command of the table, loaded, as completions need it. A two-word
 * command ("container prune", "volume create") appears as its group word,
 * whose first argument completes to the second words; the group word's own
 * options are those of its subcommands together.
 */
export async function completionModel(): Promise<CompletionCommand[]> {
  const loaded = await Promise.all(Object.entries(COMMANDS).filter(([name]) => !name.startsWith("_")).map(async ([name, entry]) => {
    const s = (await entry.load()).spec;
    const options = s.options.map((o) => {
      const choices = o.choices ?? (name === "run" ? flagChoices(o.name) : undefined);
      return choices ? { ...o, choices } : o;
    });
    return {
      name,
      summary: entry.summary,
      options,
      positional: s.positional ?? "none",
      ...(s.choices ? { choices: s.choices } : {}),
    } as CompletionCommand;
  }));
  const single = loaded.filter((c) => !c.name.includes(" "));
  const groups = new Map<string, CompletionCommand[]>();
  for (const c of loaded.filter((c) => c.name.includes(" "))) {
    const group = c.name.split(" ")[0]!;
    groups.set(group, [...(groups.get(group) ?? []), c]);
  }
  // aliases such as "image ls" → images join their group with the target's options
  for (const [alias, target] of Object.entries(ALIASES)) {
    const t = loaded.find((c) => c.name === target);
    if (!alias.includes(" ") || !t) continue;
    const group = alias.split(" ")[0]!;
    groups.set(group, [...(groups.get(group) ?? []), { ...t, name: alias }]);
  }
  for (const [group, subs] of groups) {
    if (single.some((c) => c.name === group)) continue;
    const seen = new Set<string>();
    const options = subs.flatMap((c) => c.options).filter((o) => !seen.has(o.name) && seen.add(o.name));
    single.push({
      name: group,
      summary: `${group} commands: ${subs.map((c) => c.name.split(" ")[1]).join(", ")}`,
      options,
      positional: "none",
      choices: subs.map((c) => c.name.split(" ").slice(1).join(" ")),
    });
  }
  return single;
}

/** Container or image names from every provider, sorted, without duplicates. */
export async function completeNames(kind: NameKind): Promise<string[]> {
  const lists = await Promise.all(NAME_PROVIDERS[kind].map((p) => p().catch(() => [] as readonly string[])));
  return [...new Set(lists.flat())].sort();
}

const takesValue = (o: OptionSpec) => o.type !== "bool";
const flags = (o: OptionSpec) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])];
// docker-style commands stop parsing options at the first positional (the image).
const stopsAtPositional = (c: CompletionCommand) => c.positional === "image";

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The bash script: one function, tables from the command table. */
export function bashCompletion(cmds: readonly CompletionCommand[]): string {
  const top = [...cmds.map((c) => c.name), "--help", "--version"].join(" ");
  const valueFlags = cmds.flatMap((c) => c.options.filter(takesValue).flatMap((o) => flags(o).map((f) => `"${c.name} ${f}"`)));
  const valueCases = cmds.flatMap((c) =>
    c.options.filter(takesValue).map((o) => {
      const pat = flags(o).map((f) => `"${c.name} ${f}"`).join("|");
      if (o.choices) return `    ${pat}) COMPREPLY=($(compgen -W ${shq(o.choices.join(" "))} -- "$cur")); return ;;`;
      if (o.complete === "file") return `    ${pat}) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;`;
      if (o.complete === "dir") return `    ${pat}) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return ;;`;
      if (o.complete) return `    ${pat}) COMPREPLY=($(compgen -W "$(_nook_names "$nook" ${o.complete})" -- "$cur")); return ;;`;
      return `    ${pat}) return ;;`;
    })
  );
  const flagCases = cmds.map((c) => `      ${c.name}) COMPREPLY=($(compgen -W ${shq(c.options.flatMap(flags).join(" "))} -- "$cur")) ;;`);
  const posCases = cmds.flatMap((c) => {
    if (c.choices) return [`    ${c.name}) ((npos == 0)) && COMPREPLY=($(compgen -W ${shq(c.choices.join(" "))} -- "$cur")) ;;`];
    if (c.positional === "image") {
      return [
        `    ${c.name}) if ((npos == 0)); then COMPREPLY=($(compgen -W "$(_nook_names "$nook" image)" -- "$cur"));`,
        `      else compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); fi ;;`,
      ];
    }
    if (c.positional === "container") return [`    ${c.name}) COMPREPLY=($(compgen -W "$(_nook_names "$nook" container)" -- "$cur")) ;;`];
    if (c.positional === "command") return [`    ${c.name}) COMPREPLY=($(compgen -c -- "$cur")) ;;`];
    return [];
  });
  const stopping = cmds.filter(stopsAtPositional).map((c) => c.name).join("|") || "-";
  return `# bash completion for nook, generated by \`nook completion bash\` from nook's command table.
#   now:         source <(nook completion bash)
#   from now on: nook completion bash > ~/.local/share/bash-completion/completions/nook

_nook_names() { # _nook_names NOOK KIND: container or image names, asked of nook itself
  "$1" completion __names "$2" 2>/dev/null
}

_nook() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} nook=\${COMP_WORDS[0]}
  local cmd="" w i npos=0 skip=0 rest=0
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    if [[ -z $cmd ]]; then
      [[ $w == -* ]] || cmd=$w
      continue
    fi
    if ((rest)) || [[ $w != -* ]]; then
      npos=$((npos + 1))
      case $cmd in ${stopping}) rest=1 ;; esac
      continue
    fi
    [[ $w == -- ]] && { rest=1; continue; }
    case "$cmd $w" in
      ${valueFlags.length ? valueFlags.join("|") : '"-"'}) skip=1 ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W ${shq(top)} -- "$cur"))
    return
  fi
  if ((!rest)); then
    case "$cmd $prev" in
${valueCases.join("\n")}
    esac
    if [[ $cur == -* ]]; then
      case $cmd in
${flagCases.join("\n")}
      esac
      return
    fi
  fi
  case $cmd in
${posCases.join("\n")}
  esac
}

complete -F _nook nook
`;
}

function zq(s: string): string {
  return s.replaceAll("\\", "\\\\").replaceAll("[", "\\[").replaceAll("]", "\\]").replaceAll(":", "\\:");
}

/** The zsh script: `_arguments` specs from the command table. */
export function zshCompletion(cmds: readonly CompletionCommand[]): string {
  const action = (o: OptionSpec): string => {
    const msg = zq((o.value ?? o.name).toLowerCase());
    if (o.choices) return `${msg}:(${o.choices.join(" ")})`;
    if (o.complete === "file") return `${msg}:_files`;
    if (o.complete === "dir") return `${msg}:_files -/`;
    if (o.complete) return `${msg}:_nook_${o.complete}`;
    return `${msg}: `;
  };
  const specs = (c: CompletionCommand): string[] => {
    const out: string[] = [];
    for (const o of c.options) {
      const names = flags(o);
      const excl = o.type === "list" ? "*" : names.length > 1 ? `(${names.join(" ")})` : "";
      for (const f of names) {
        const suffix = !takesValue(o) ? "" : f.startsWith("--") ? "=" : "+";
        out.push(shq(`${excl}${f}${suffix}[${zq(o.help)}]${takesValue(o) ? `:${action(o)}` : ""}`));
      }
    }
    if (c.choices) out.push(shq(`1:${c.name === "completion" ? "shell" : "argument"}:(${c.choices.join(" ")})`));
    else if (c.positional === "image") out.push(shq("1:image:_nook_image"), shq("*::argument:_files"));
    else if (c.positional === "container") out.push(shq("*:container:_nook_container"));
    else if (c.positional === "command") out.push(shq("*::command:_normal"));
    return out;
  };
  const cases = cmds.map((c) => {
    const args = stopsAtPositional(c) ? "-S -A '-*'" : "-S";
    return `    (${c.name})\n      _arguments ${args} \\\n        ${specs(c).join(" \\\n        ")}\n      ;;`;
  });
  const described = cmds.map((c) => shq(`${c.name}:${c.summary.replaceAll(":", "\\:")}`)).join("\n    ");
  return `#compdef nook
# zsh completion for nook, generated by \`nook completion zsh\` from nook's command table.
#   now (after compinit): source <(nook completion zsh)
#   from now on:          nook completion zsh > "\${fpath[1]}/_nook"

_nook_names() { # _nook_names KIND: container or image names, asked of nook itself
  local -a names
  names=(\${(f)"$(\${_nook_exe:-nook} completion __names $1 2>/dev/null)"})
  _wanted $1 expl $1 compadd -a names
}
_nook_image() { _nook_names image }
_nook_container() { _nook_names container }

_nook() {
  local curcontext=$curcontext state line
  typeset -A opt_args
  typeset -g _nook_exe=\${words[1]}
  _arguments -C \\
    '(- :)--help[Show help]' \\
    '(- :)--version[Show the versions of nook, Deno and libshim]' \\
    '1: :->command' \\
    '*:: :->args' && return
  case $state in
  (command)
    local -a commands
    commands=(
    ${described}
    )
    _describe -t commands 'nook command' commands
    ;;
  (args)
    case $words[1] in
${cases.join("\n")}
    esac
    ;;
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _nook "$@"
else
  compdef _nook nook
fi
`;
}

function fq(s: string): string {
  return `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** The fish script: `complete` lines from the command table. */
export function fishCompletion(cmds: readonly CompletionCommand[]): string {
  const lines: string[] = [];
  for (const c of cmds) {
    lines.push(`complete -c nook -n __nook_needs_command -a ${c.name} -d ${fq(c.summary)}`);
  }
  lines.push(
    `complete -c nook -n __nook_needs_command -l help -d 'Show help'`,
    `complete -c nook -n __nook_needs_command -l version -d 'Show the versions of nook, Deno and libshim'`,
  );
  for (const c of cmds) {
    const cond = `'__nook_using ${c.name}'`;
    const valueFlags = c.options.filter(takesValue).flatMap(flags);
    lines.push(`set -g __nook_value_flags_${c.name.replaceAll("-", "_")} ${valueFlags.join(" ")}`);
    for (const o of c.options) {
      const parts = [`complete -c nook -n ${cond} -l ${o.name}`];
      if (o.short) parts.push(`-s ${o.short}`);
      if (takesValue(o)) {
        if (o.choices) parts.push(`-x -a ${fq(o.choices.join(" "))}`);
        else if (o.complete === "file") parts.push("-r -F");
        else if (o.complete === "dir") parts.push(`-x -a '(__fish_complete_directories)'`);
        else if (o.complete) parts.push(`-x -a '(__nook_names ${o.complete})'`);
        else parts.push("-x");
      }
      parts.push(`-d ${fq(o.help)}`);
      lines.push(parts.join(" "));
    }
    const first = `'__nook_using ${c.name}; and __nook_positionals ${c.name} 0'`;
    if (c.choices) lines.push(`complete -c nook -n ${first} -a ${fq(c.choices.join(" "))}`);
    else if (c.positional === "image") {
      lines.push(`complete -c nook -n ${first} -a '(__nook_names image)'`);
      lines.push(`complete -c nook -n '__nook_using ${c.name}; and not __nook_positionals ${c.name} 0' -F`);
    }
    else if (c.positional === "container") lines.push(`complete -c nook -n ${cond} -a '(__nook_names container)'`);
    else if (c.positional === "command") lines.push(`complete -c nook -n ${cond} -a '(__fish_complete_command)'`);
  }
  return `# fish completion for nook, generated by \`nook completion fish\` from nook's command table.
#   now:         nook completion fish | source
#   from now on: nook completion fish > ~/.config/fish/completions/nook.fish

function __nook_names --description 'container or image names, asked of nook itself'
    set -l nook (commandline -opc)[1]
    test -n "$nook"; or set nook nook
    $nook completion __names $argv[1] 2>/dev/null
end

function __nook_command --description 'the nook command on the line, if any'
    for w in (commandline -opc)[2..-1]
        string match -q -- '-*' $w; or begin; echo $w; return 0; end
    end
    return 1
end

function __nook_needs_command
    not __nook_command >/dev/null
end

function __nook_using -a name
    set -l cmd (__nook_command)
    and test "$cmd" = "$name"
end

function __nook_positionals -a name count --description 'true when the command has exactly COUNT positional arguments so far'
    set -l var __nook_value_flags_(string replace -a -- - _ $name)
    set -l n 0
    set -l skip 0
    set -l seen 0
    for w in (commandline -opc)[2..-1]
        if test $seen = 0
            string match -q -- '-*' $w; or set seen 1
            continue
        end
        if test $skip = 1
            set skip 0
        else if contains -- $w $$var
            set skip 1
        else if not string match -q -- '-*' $w
            set n (math $n + 1)
        end
    end
    test $n = $count
end

complete -c nook -f
${lines.join("\n")}
`;
}

/** Print the script for a shell, or (hidden, for the scripts) names of a kind. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "__names") {
    const kind = argv[1];
    if (kind !== "container" && kind !== "image") throw new UsageError(`Unknown name kind "${kind}"`, { hint: "container or image" });
    const names = await completeNames(kind);
    await write(names.map((n) => `${n}\n`).join(""));
    return 0;
  }
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const shell = a.rest[0];
  if (a.rest.length !== 1 || !(SHELLS as readonly string[]).includes(shell!)) {
    throw new UsageError(shell === undefined ? "Which shell?" : `No completion for "${a.rest.join(" ")}"`, {
      hint: `nook completion ${SHELLS.join("|")}`,
    });
  }
  const model = await completionModel();
  const gen = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell as typeof SHELLS[number]];
  await write(gen(model));
  return 0;
}
