/** Contents of the files nook generates for /etc in every container. */

/** /etc/hosts for a container with this hostname and extra `name:ip` entries. */
export function hostsFile(hostname: string, extra: readonly [string, string][] = []): string {
  return [
    "127.0.0.1\tlocalhost localhost.localdomain",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `127.0.1.1\t${hostname}`,
    ...extra.map(([name, ip]) => `${ip}\t${name}`),
    "",
  ].join("\n");
}

/**
 * /etc/resolv.conf from the host's, without loopback nameservers (they would
 * point at the container itself); docker's public fallback when none is left.
 */
export function resolvConf(hostText: string | undefined, dns: readonly string[] = []): string {
  const lines = (hostText ?? "").split("\n");
  const keep = lines.filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    if (!m) return l.trim() !== "";
    return dns.length === 0 && !/^(127\.|::1$|0\.0\.0\.0)/.test(m[1]!);
  });
  const servers = dns.length ? dns : keep.some((l) => /^\s*nameserver/.test(l)) ? [] : ["8.8.8.8", "8.8.4.4"];
  return [...keep, ...servers.map((s) => `nameserver ${s}`), ""].join("\n");
}

/** Write hosts, hostname and resolv.conf into dir; returns their host paths. */
export function writeEtcFiles(
  dir: string,
  hostname: string,
  opts: { dns?: string[]; addHosts?: [string, string][] } = {},
): { hosts: string; hostname: string; resolvConf: string } {
  const files = { hosts: `${dir}/hosts`, hostname: `${dir}/hostname`, resolvConf: `${dir}/resolv.conf` };
  let host: string | undefined;
  try {
    host = Deno.readTextFileSync("/etc/resolv.conf");
  } catch {
    host = undefined;
  }
  Deno.writeTextFileSync(files.hosts, hostsFile(hostname, opts.addHosts));
  Deno.writeTextFileSync(files.hostname, hostname + "\n");
  Deno.writeTextFileSync(files.resolvConf, resolvConf(host, opts.dns));
  return files;
}
