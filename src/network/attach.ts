import type { ContainerSpec, RunHooks } from "../model/mod.ts";
import { containerDir, runtimeDir } from "../paths/mod.ts";
import type { Helper } from "./_helper.ts";
import { startPasta } from "./pasta.ts";
import { startSlirp } from "./slirp4netns.ts";
import { assignHostPorts } from "./ports.ts";
import type { NetworkMode } from "./mode.ts";
import { NetworkError } from "./network_error.ts";
import { learnFromHelper } from "./tools.ts";
import { type NetworkState, processStartTime, writeNetworkState } from "./state.ts";

/** A container's network while it runs: the parent-side steps and what they set up. */
export interface NetworkAttachment {
  /** While the child waits in its namespaces: check and pick host ports, start the helper, wait until the interface is up, publish. */
  beforeGo(pid: number): Promise<void>;
  /** After the container ended (or failed to start): stop and reap the helper. */
  afterExit(): Promise<void>;
  /** The network as it runs: mode, ports, helper pid (complete after beforeGo). */
  readonly state: NetworkState;
  /** beforeGo must wait for the id maps ({@link helperNeedsIdMaps}). */
  readonly needsIdMaps: boolean;
}

/**
 * Whether a mode's helper must wait for the id maps: slirp4netns
 * (--enable-sandbox) turns itself into root of the container's user
 * namespace (setegid(0)), which fails until gid 0 is mapped. pasta only joins
 * the namespaces, so it can start while the maps are written.
 */
export function helperNeedsIdMaps(mode: NetworkMode): boolean {
  return mode === "slirp4netns";
}

/** Where slirp4netns's API socket goes: short, because a socket path has at most 107 bytes. */
export function slirpApiSocket(id: string): string {
  return `${runtimeDir()}/slirp4netns-${id.slice(0, 12)}.sock`;
}

/**
 * The network of one container run, for the process that stays with the
 * container (`nook run` in the foreground, through {@link networkHooks}). The
 * helper becomes that process's child with a parent-death signal, so it dies
 * with it even after `kill -9`: a process that exits before the container
 * (`nook run -d` handing over to a monitor) lets the monitor start the
 * helper instead (detachedNetwork, src/network/detached.ts).
 */
export function attachNetwork(spec: ContainerSpec): NetworkAttachment {
  const setup = spec.networkSetup;
  const state: NetworkState = {
    id: spec.id,
    ...(setup?.name ? { name: setup.name } : {}),
    mode: spec.network,
    ports: setup?.ports ?? [],
  };
  let helper: Helper | undefined;
  let socket: string | undefined;
  return {
    state,
    needsIdMaps: helperNeedsIdMaps(spec.network),
    async beforeGo(pid: number) {
      if (!setup) return;
      if (setup.ports.length) state.ports = await assignHostPorts(setup.ports);
      if (spec.network === "pasta" && setup.tool) {
        try {
          helper = await startPasta(setup.tool, pid, setup.runDir, state.ports, setup.pastaArgs);
        } catch (err) {
          throw err instanceof NetworkError ? learnFromHelper(err, setup) : err;
        }
      } else if (spec.network === "slirp4netns" && setup.tool) {
        socket = slirpApiSocket(spec.id);
        helper = await startSlirp(setup.tool, pid, setup.runDir, socket, setup.slirp, state.ports);
      }
      if (helper) state.helper = { tool: spec.network as "pasta" | "slirp4netns", pid: helper.pid, log: helper.log };
      const started = processStartTime(pid);
      if (started) Object.assign(state, { pid, started });
      try {
        writeNetworkState(containerDir(spec.id), state); // with the record, where ps, inspect and port read it
      } catch (err) {
        // a container run through the library without a record: nothing lists it
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    },
    async afterExit() {
      // a published port is free again only once the helper has exited: then wait for it
      await helper?.stop({ wait: state.ports.length > 0 });
      if (socket) {
        try {
          Deno.removeSync(socket);
        } catch {
          // slirp4netns never got to make it
        }
      }
    },
  };
}

/**
 * {@link attachNetwork} as the hooks of `runContainer`. pasta starts while
 * the id maps are written (it joins the namespaces without needing them, and
 * its set-up is the slowest step of a networked start); slirp4netns after.
 */
export function networkHooks(spec: ContainerSpec): RunHooks {
  const net = attachNetwork(spec);
  const start = [(pid: number) => net.beforeGo(pid)];
  return {
    ...(net.needsIdMaps ? { beforeGo: start } : { duringIdMapping: start }),
    afterExit: [() => net.afterExit()],
  };
}
