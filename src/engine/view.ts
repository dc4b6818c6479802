/**
 * What `inspect` and `ps` show: docker/podman-shaped documents built from a
 * record and its current status.
 */
import { formatPsPorts, portBindings } from "../network/ports.ts";
import { liveNetworkState, type NetworkState } from "../network/state.ts";
import { type Status } from "./status.ts";
import type { ContainerRecord } from "./store.ts";
import { containerDir, logPath } from "./store.ts";
import { humanDuration, isoNs, ZERO_TIME } from "./units.ts";
import { healthDocument, healthSuffix, readHealth } from "./health.ts";
import { removalInProgress } from "./intent_file.ts";

/** One container as commands see it: its record and its status now. */
export interface ContainerView {
  /** The record. */
  rec: ContainerRecord;
  /** The status, reconciled with the processes that exist. */
  status: Status;
}

function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

/** The state docker would show: a container whose start failed before it ran is "created". */
export function shownState(s: Status): string {
  return s.state === "exited" && s.startedAt === 0n ? "created" : s.state;
}

/** docker's "Up 5 seconds" / "Exited (0) 3 minutes ago" / "Created" / "Restarting (1) 2 seconds ago". */
export function statusText(s: Status, now = Date.now()): string {
  switch (s.state) {
    case "running":
      return `Up ${humanDuration(now - nsToMs(s.startedAt))}`;
    case "restarting":
      return `Restarting (${s.exitCode}) ${humanDuration(now - nsToMs(s.finishedAt))} ago`;
    case "exited":
      return s.startedAt === 0n && s.finishedAt === 0n
        ? "Created"
        : `Exited (${s.exitCode}) ${humanDuration(now - nsToMs(s.finishedAt))} ago`;
    default:
      return "Created";
  }
}

/** The command as docker ps shows it: the arguments joined by spaces. */
export function commandText(args: readonly string[]): string {
  return args.join(" ");
}

/** The network of a container while it runs (the same state `nook port` reads), else undefined. */
export function networkOf(v: ContainerView): NetworkState | undefined {
  return liveNetworkState(containerDir(v.rec.id), v.status);
}

/** The docker/podman `inspect` document of one container. */
export function inspectDocument(v: ContainerView): Record<string, unknown> {
  const { rec, status: s } = v;
  const spec = rec.spec;
  const p = spec.process;
  const running = s.state === "running";
  const net = networkOf(v);
  const health = readHealth(rec);
  return {
    Id: rec.id,
    Created: rec.created,
    Path: p.args[0] ?? "",
    Args: p.args.slice(1),
    State: {
      Status: removalInProgress(rec.id) ? "removing" : shownState(s),
      Running: running,
      Paused: false,
      Restarting: s.state === "restarting",
      OOMKilled: s.oomKilled, // set from cgroup memory events
      Dead: false,
      Pid: running ? s.pid : 0,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: isoNs(s.startedAt),
      FinishedAt: isoNs(s.finishedAt),
      ...(health ? { Health: healthDocument(health) } : {}),
    },
    Image: rec.imageId ?? rec.image,
    ImageName: rec.image,
    Rootfs: rec.rootfs.backend === "dir" ? rec.rootfs.path : "",
    Name: rec.name,
    Pod: spec.pod ?? "",
    RestartCount: s.restarts,
    Driver: rec.rootfs.backend,
    LogPath: rec.host.log.driver === "none" ? "" : logPath(rec.id),
    MonitorPid: s.monitorPid,
    Mounts: spec.mounts.map((m) => ({
      Type: m.fstype === "" ? "bind" : m.fstype,
      Source: m.source,
      Destination: m.target,
      RW: !m.readonly,
      Propagation: "rprivate",
    })),
    Config: {
      Hostname: spec.hostname,
      Domainname: "",
      User: `${p.uid}:${p.gid}`,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: p.terminal,
      OpenStdin: p.stdin,
      StdinOnce: false,
      Env: p.env,
      Cmd: p.args,
      Image: rec.image,
      WorkingDir: p.cwd,
      Entrypoint: [],
      Labels: {},
      StopSignal: rec.host.stopSignal,
      StopTimeout: rec.host.stopTimeout,
      ...(rec.host.health
        ? {
          Healthcheck: {
            Test: rec.host.health.test,
            Interval: rec.host.health.intervalMs * 1e6,
            Timeout: rec.host.health.timeoutMs * 1e6,
            StartPeriod: rec.host.health.startPeriodMs * 1e6,
            Retries: rec.host.health.retries,
          },
        }
        : {}),
    },
    HostConfig: {
      AutoRemove: rec.host.autoRemove,
      RestartPolicy: { Name: rec.host.restart.name, MaximumRetryCount: rec.host.restart.maxRetries },
      NetworkMode: spec.network,
      ReadonlyRootfs: spec.readonlyRootfs,
      Init: p.init,
      LogConfig: {
        Type: rec.host.log.driver,
        Config: {
          ...(rec.host.log.maxSize ? { "max-size": String(rec.host.log.maxSize) } : {}),
          "max-file": String(rec.host.log.maxFiles),
        },
      },
      Ulimits: p.rlimits.map(([res, soft, hard]) => ({ Name: res, Soft: Number(soft), Hard: Number(hard) })),
      PortBindings: portBindings(spec.networkSetup?.ports ?? [], { anyIp: "" }),
    },
    NetworkSettings: {
      // while it runs: the host ports it got (docker shows the image's unpublished ports as null)
      Ports: net ? portBindings(net.ports, { exposed: spec.exposedPorts ?? [] }) : {},
      // the user networks it is on: filled in by `nook inspect` (networks.ts' records), {} otherwise
      Networks: {},
    },
    GraphDriver: {
      Name: rec.rootfs.backend,
      Data: { RootDir: rec.rootfs.path, ContainerDir: containerDir(rec.id) },
    },
  };
}

/** The fields `ps --format` templates and `ps --format json` use (docker's names). */
export function psFields(v: ContainerView, now = Date.now()): Record<string, unknown> {
  const { rec, status: s } = v;
  const created = Date.parse(rec.created);
  const removing = removalInProgress(rec.id);
  return {
    ID: rec.id.slice(0, 12),
    Names: rec.name,
    Image: rec.image || (rec.rootfs.backend === "dir" ? rec.rootfs.path : ""),
    Command: commandText(rec.spec.process.args),
    CreatedAt: new Date(created).toISOString(),
    RunningFor: `${humanDuration(now - created)} ago`,
    Ports: formatPsPorts(networkOf(v)?.ports ?? []),
    // podman's word for a container whose removal another command has begun
    State: removing ? "removing" : shownState(s),
    Status: removing ? "Removing" : statusText(s, now) + (s.state === "running" ? healthSuffix(readHealth(rec)) : ""),
    Pid: s.state === "running" ? s.pid : 0,
    ExitCode: s.exitCode,
    Restarts: s.restarts,
    StartedAt: isoNs(s.startedAt),
    FinishedAt: s.finishedAt > 0n ? isoNs(s.finishedAt) : ZERO_TIME,
  };
}
