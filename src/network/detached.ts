/**
 * The network of a detached container. Its helper (pasta, slirp4netns) must
 * live exactly as long as the container, across the monitor's restarts, and
 * nook is gone once `run -d` returns: so the monitor (libshim/monitor.c)
 * starts it, as its own child with a parent-death signal, at every start of
 * the container. nook decides everything and hands it over as monitor
 * arguments: the helper's command line (with `%PID%`, `%READY_FD%` and
 * `%EXIT_FD%` for what only exists at each start), when to start it, how it
 * says it is ready, how to ask it to exit, and slirp4netns's port-forward
 * requests for its API socket.
 */
import type { ContainerSpec } from "../model/mod.ts";
import { errnoText } from "../errors/mod.ts";
import type { ShimMessage } from "../ffi/mod.ts";
import { HelperReport, SIGNALS } from "../plan/mod.ts";
import { helperFailure, READY_TIMEOUT_MS, STOP_TIMEOUT_MS } from "./_helper.ts";
import { helperNeedsIdMaps, slirpApiSocket } from "./attach.ts";
import { NetworkError } from "./network_error.ts";
import { PASTA_READY, pastaArgv } from "./pasta.ts";
import { assignHostPorts, type PortMapping } from "./ports.ts";
import { HOSTFWD_HINT, hostfwdRequest, hostfwdTarget, SLIRP_READY, slirpArgv } from "./slirp4netns.ts";
import { type NetworkState, writeNetworkState } from "./state.ts";
import { installHint, learnFromHelper } from "./tools.ts";

/** What the monitor replaces in the helper's arguments at each start. */
const PID = "%PID%";
const READY_FD = "%READY_FD%";
const EXIT_FD = "%EXIT_FD%";

/** A detached container's network, decided for one start by nook. */
export interface DetachedNetwork {
  /** Arguments for the monitor (`--helper N ARGV… --helper-…`); none without a helper. */
  args: string[];
  /** What the network is (the host ports picked); {@link publish} records it. */
  state: NetworkState;
  /** The user's error for the monitor's report that the helper failed (first start). */
  explain(msg: ShimMessage): NetworkError | undefined;
  /** Record the state once the container runs, where `nook port`, `ps` and `inspect` read it. */
  publish(): void;
}

/**
 * Decide a detached container's network for this start: check the published
 * host ports and pick free ones for `-p 80` (at every start by nook: `run -d`,
 * `start`, `restart`; the monitor's own restarts keep these), and build the
 * monitor's helper arguments. `dir` is the container's record directory: the
 * helper's log, pasta's pid FIFO and the state live there, as long as the container.
 */
export async function detachedNetwork(spec: ContainerSpec, dir: string, name?: string): Promise<DetachedNetwork> {
  const setup = spec.networkSetup;
  const state: NetworkState = { id: spec.id, ...(name ? { name } : {}), mode: spec.network, ports: setup?.ports ?? [] };
  const args: string[] = [];
  const publish = () => writeNetworkState(dir, state);
  if (!setup) return { args, state, explain: () => undefined, publish };
  if (setup.ports.length) state.ports = await assignHostPorts(setup.ports);
  const mode = spec.network;
  if (!setup.tool || (mode !== "pasta" && mode !== "slirp4netns")) {
    return {
      args,
      state,
      explain: () => undefined,
      publish,
    };
  }

  const log = `${dir}/${mode}.log`;
  Deno.writeTextFileSync(log, "", { mode: 0o600 }); // this start's words only (the monitor's restarts append)
  state.helper = { tool: mode, pid: 0, log };
  const opts = [
    "--helper-log",
    log,
    "--helper-ready-ms",
    String(READY_TIMEOUT_MS),
    "--helper-stop-ms",
    String(STOP_TIMEOUT_MS),
  ];
  if (!helperNeedsIdMaps(mode)) opts.push("--helper-early");
  let argv: string[];
  const calls: [PortMapping, number][] = [];
  let socket = "";
  if (mode === "pasta") {
    // readiness: pasta writes its pid file once the interface and the port listeners are up; it is a FIFO
    const pidFile = `${dir}/pasta.pid`;
    argv = pastaArgv(setup.tool, PID, pidFile, state.ports, setup.pastaArgs);
    opts.push(
      "--helper-ready-fifo",
      pidFile,
      "--helper-stop-signal",
      String(SIGNALS.SIGTERM!),
      "--helper-remove",
      pidFile,
    );
  } else {
    // readiness: "1" on its ready fd; it exits at EOF on its exit fd; ports are forwarded through its API socket
    socket = slirpApiSocket(spec.id);
    argv = slirpArgv(setup.tool, PID, setup.slirp, { ready: READY_FD, exit: EXIT_FD }, socket);
    opts.push("--helper-remove", socket, "--helper-call-ok", '"return"');
    for (const p of state.ports) {
      for (let i = 0; i < p.range; i++) {
        opts.push("--helper-call", socket, hostfwdRequest(p, i));
        calls.push([p, i]);
      }
    }
  }
  args.push("--helper", String(argv.length), ...argv, ...opts);

  const explain = (msg: ShimMessage): NetworkError | undefined => {
    if (msg.op !== HelperReport.OP_INDEX) return undefined;
    const step = msg.value & 0xff;
    const ready = mode === "pasta" ? PASTA_READY : SLIRP_READY;
    switch (step) {
      case HelperReport.START:
        return new NetworkError(`Cannot start ${mode} ("${setup.tool}"): ${errnoText(msg.err)}`, {
          path: setup.tool!,
          errno: msg.err,
          hint: msg.err === 2 ? installHint(mode) : `check that "${setup.tool}" can be run`,
        });
      case HelperReport.EXITED:
        return mode === "pasta"
          ? learnFromHelper(helperFailure(mode, `exited before ${ready}`, log), setup)
          : helperFailure(mode, `exited before ${ready}`, log);
      case HelperReport.TIMEOUT:
        return helperFailure(mode, `did not report ${ready} within ${READY_TIMEOUT_MS / 1000} s`, log);
      case HelperReport.CALL: {
        if (msg.err) {
          return helperFailure(mode, `did not answer on its API socket "${socket}": ${errnoText(msg.err)}`, log);
        }
        const [p, i] = calls[msg.value >> 8] ?? [];
        let why = msg.text;
        try {
          why = JSON.parse(msg.text)?.error?.desc ?? msg.text;
        } catch {
          // the reply as it came (it may be cut at the message's length)
        }
        return helperFailure(mode, `cannot publish ${p ? hostfwdTarget(p, i!) : "a port"}: ${why}`, log, HOSTFWD_HINT);
      }
      default:
        return undefined;
    }
  };
  return { args, state, explain, publish };
}
