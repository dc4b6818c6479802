/**
 * Completion scripts, generated from the command table, loaded into real
 * bash, zsh and fish: they complete a subcommand, option values, image
 * names asked of nook itself, and container names from a provider.
 */
import {
  bashCompletion,
  type CompletionCommand,
  completionModel,
  completeNames,
  fishCompletion,
  NAME_PROVIDERS,
  zshCompletion,
} from "../../src/cli/completion.ts";
import { COMMANDS } from "../../src/cli/commands.ts";
import { assert, isolatedEnv, NOOK, nook, scratch, sh, test } from "../_helpers.ts";

type Shell = "bash" | "zsh" | "fish";

const which = (b: string) => ["/usr/bin", "/bin"].some((d) => { try { return Deno.statSync(`${d}/${b}`).isFile; } catch { return false; } });
const shellSkip = (s: Shell) => (which(s) ? undefined : `${s} is not installed (apt install ${s})`);

/**
 * A directory for PATH with a `nook` that runs the real launcher, or (with
 * `containers`) one that answers `completion __names container` with those
 * names, as the containers' lister does.
 */
function nookOnPath(containers?: string[]): string {
  const bin = scratch("nook-path-");
  const fake = containers
    ? `if [ "$1 $2 $3" = "completion __names container" ]; then printf '%s\\n' ${containers.join(" ")}; exit 0; fi\n`
    : "";
  Deno.writeTextFileSync(`${bin}/nook`, `#!/bin/sh\n${fake}exec ${NOOK} "$@"\n`, { mode: 0o755 });
  return bin;
}

/** The command table plus a command whose arguments are containers (as `rm` has). */
async function modelWithContainers(): Promise<CompletionCommand[]> {
  return [
    ...await completionModel(),
    {
      name: "rm",
      summary: "Remove containers",
      options: [{ name: "force", short: "f", type: "bool", help: "Kill it first" }],
      positional: "container",
    },
  ];
}

/** What the shell offers when TAB is pressed at the end of `line`. */
async function complete(shell: Shell, script: string, line: string, bin: string): Promise<string[]> {
  const dir = scratch("nook-compl-");
  const file = `${dir}/nook.${shell}`;
  Deno.writeTextFileSync(file, script);
  const env = { ...isolatedEnv(), PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`, TERM: "dumb" };
  let out;
  if (shell === "bash") {
    const prog = `source "$1"; read -ra COMP_WORDS <<<"$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");
      COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMP_LINE=$2; COMP_POINT=\${#2}; _nook; printf '%s\\n' "\${COMPREPLY[@]}"`;
    out = await sh("bash", ["-c", prog, "bash", file, line], env);
  } else if (shell === "fish") {
    out = await sh("fish", ["--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, file, line], env);
  } else {
    // zsh completes only in its line editor: drive an interactive zsh on a pty
    // (zpty), press TAB, and print what the completion system adds.
    const driver = `${dir}/drive.zsh`;
    Deno.writeTextFileSync(
      driver,
      `zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z 'PROMPT=""; RPROMPT=""; unsetopt beep'
zpty -w z 'autoload -U compinit && compinit -u -D'
zpty -w z "source \${(q)1}"
zpty -w z 'compadd() {
  if (( \${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
  local -a got; builtin compadd -A got "$@"
  local m; for m in $got; do print -r -- "NOOKC:$m"; done
  builtin compadd "$@"
}'
zpty -w z '_t_complete() { zle complete-word; print -r -- NOOK""END; }'
zpty -w z 'zle -N _t_complete; bindkey "^I" _t_complete; print NOOK""READY'
zpty -r z line '*NOOKREADY*' || exit 3
zpty -n -w z "$2"$'\\t'
zpty -r z out '*NOOKEND*' || exit 4
zpty -d z
for line in "\${(@f)out}"; do
  line=\${line%$'\\r'}
  [[ $line == *NOOKC:* ]] && print -r -- \${line#*NOOKC:}
done
exit 0
`,
    );
    out = await sh("timeout", ["30", "zsh", "-f", driver, file, line], env);
  }
  assert.equal(out.code, 0, `${shell} "${line}": ${out.stderr}`);
  return [...new Set(out.stdout.split("\n").map((l) => l.split("\t")[0]!.trim()).filter(Boolean))].sort();
}

for (const shell of ["bash", "zsh", "fish"] as const) {
  const gen = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];

  test(`the ${shell} script loads in ${shell} and completes subcommands, options and option values`, async () => {
    const r = await nook(["completion", shell]);
    assert.equal(r.code, 0, r.stderr);
    const bin = nookOnPath();
    assert.deepEqual(await complete(shell, r.stdout, "nook ru", bin), ["run", "runtime"]);
    assert.deepEqual(await complete(shell, r.stdout, "nook ver", bin), ["version"]);
    const all = await complete(shell, r.stdout, "nook ", bin);
    for (const name of Object.keys(COMMANDS).filter((n) => !n.startsWith("_"))) {
      const [first, second] = name.split(" ");
      assert.ok(all.includes(first!), `${first} in ${all.join(" ")}`);
      // a two-word command: its group word completes to the second word
      if (second) assert.ok((await complete(shell, r.stdout, `nook ${first} `, bin)).includes(second), `${name}`);
    }
    assert.deepEqual(await complete(shell, r.stdout, "nook run --netw", bin), ["--network", "--network-alias", "--network-rate"]);
    assert.deepEqual(await complete(shell, r.stdout, "nook run --network ", bin), ["auto", "host", "none", "pasta", "slirp4netns"]);
    assert.deepEqual(await complete(shell, r.stdout, "nook doctor --format ", bin), ["json", "table"]);
    assert.deepEqual(await complete(shell, r.stdout, "nook completion ", bin), ["bash", "fish", "zsh"]);
  }, { skip: shellSkip(shell) });

  test(`the ${shell} script completes image names asked of nook, and container names from a provider`, async () => {
    const images = await complete(shell, (await nook(["completion", shell])).stdout, "nook run he", nookOnPath());
    assert.deepEqual(images, ["hello"], "the built-in image, from `nook completion __names image`");
    const script = gen(await modelWithContainers());
    const bin = nookOnPath(["web-1", "web-2", "db"]);
    assert.deepEqual(await complete(shell, script, "nook rm we", bin), ["web-1", "web-2"]);
    assert.deepEqual(await complete(shell, script, "nook rm -f d", bin), ["db"]);
  }, { skip: shellSkip(shell) });
}

test("nook completion __names lists names from every provider, merged and sorted", async () => {
  const r = await nook(["completion", "__names", "image"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.split("\n").includes("hello"));
  assert.equal((await nook(["completion", "__names", "container"])).stdout, "", "no container provider yet: no names");
  NAME_PROVIDERS.container.push(
    () => Promise.resolve(["b", "a"]),
    () => Promise.resolve(["a", "c"]),
    () => Promise.reject(new Error("down")),
  );
  try {
    assert.deepEqual(await completeNames("container"), ["a", "b", "c"], "a failing provider adds nothing");
  } finally {
    NAME_PROVIDERS.container.length = 0;
  }
});

test("nook completion refuses an unknown shell and says which exist", async () => {
  const r = await nook(["completion", "tcsh"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /No completion for "tcsh"/);
  assert.match(r.stderr, /bash\|zsh\|fish/);
});

test("every command in the table has --help with a usage line and examples", async () => {
  // names starting with "_" are nook's own internal entry points, not for users
  for (const name of Object.keys(COMMANDS).filter((n) => !n.startsWith("_"))) {
    const r = await nook([name, "--help"]);
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: nook ${name}`), name);
    assert.match(r.stdout, /\nExamples:\n {2}\S/, `${name} --help shows examples`);
  }
});
