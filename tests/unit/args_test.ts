import { assert, test } from "../_helpers.ts";
import { parseArgs } from "../../src/cli/_args.ts";
import { RUN_OPTIONS } from "../../src/cli/run.ts";
import { envFlag, parseEnvFile } from "../../src/cli/run.ts";
import { mergeEnv, parseUlimit } from "../../src/engine/prepare.ts";
import { UsageError } from "../../src/errors/mod.ts";

test("run's parser stops at the image and passes the command through untouched", () => {
  const a = parseArgs(["--rm", "-it", "-e", "A=1", "-eB=2", "--env=C=3", "-w/tmp", "img", "sh", "-c", "--rm -x"], RUN_OPTIONS);
  assert.equal(a.opts.rm, true);
  assert.equal(a.opts.interactive, true);
  assert.equal(a.opts.tty, true);
  assert.deepEqual(a.opts.env, ["A=1", "B=2", "C=3"]);
  assert.equal(a.opts.workdir, "/tmp");
  assert.deepEqual(a.rest, ["img", "sh", "-c", "--rm -x"]);
});

test("the parser names an unknown flag and a missing value", () => {
  assert.throws(() => parseArgs(["--nope"], RUN_OPTIONS), /Unknown flag "--nope"/);
  assert.throws(() => parseArgs(["-e"], RUN_OPTIONS), /needs a value/);
  assert.throws(() => parseArgs(["--rm=maybe"], RUN_OPTIONS), /true or false/);
  assert.throws(() => parseArgs(["-Z"], RUN_OPTIONS), UsageError);
});

test("env: later values win in first-seen order; -e KEY copies nook's value", () => {
  assert.deepEqual(mergeEnv(["A=1", "B=2", "A=3"]), ["A=3", "B=2"]);
  Deno.env.set("NOOK_T_X", "v");
  assert.deepEqual(envFlag("NOOK_T_X"), ["NOOK_T_X=v"]);
  assert.deepEqual(envFlag("NOOK_T_UNSET_Y"), []);
  assert.throws(() => envFlag("=x"), /Invalid environment variable/);
});

test("env-file lines follow docker's rules and a bad line is named", () => {
  assert.deepEqual(parseEnvFile("# c\n  A=1 2 \r\n\nB=\n", "f"), ["A=1 2 ", "B="]);
  assert.throws(() => parseEnvFile("OK=1\nNOT OK=2\n", "f"), /Invalid line 2 in env file "f"/);
  assert.throws(() => parseEnvFile("=x\n", "f"), /Invalid line 1/);
});

test("--ulimit parses soft and hard, unlimited, and refuses unknown names", () => {
  assert.deepEqual(parseUlimit("nofile=10:20"), [7, 10n, 20n]);
  assert.deepEqual(parseUlimit("core=-1"), [4, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn]);
  assert.throws(() => parseUlimit("nofile=20:10"), /soft limit is above/);
  assert.throws(() => parseUlimit("bogus=1"), /Invalid ulimit/);
});
