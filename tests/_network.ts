/**
 * Helpers for the networking tests (foreground and detached): which helpers
 * this host can run, a web server for the container, and an HTTP client that
 * retries (bounded) until the server answers on 127.0.0.1.
 */
import { findExecutable } from "../src/userns/mod.ts";
import { helperSearchPath, processStartTime, tunProblem } from "../src/network/mod.ts";
import { busyboxSkip } from "./_helpers.ts";

/** The helpers, with the Debian package of each. */
export const HELPERS = [["pasta", "passt"], ["slirp4netns", "slirp4netns"]] as const;

/** Why a helper's tests cannot run here. */
export function helperSkip(tool: string, pkg: string): string | undefined {
  const skip = busyboxSkip();
  if (skip) return skip;
  if (!findExecutable(tool, helperSearchPath())) return `${tool} is not installed (apt install ${pkg})`;
  return tunProblem() ? `${tunProblem()} (tests/run as root makes it 0666)` : undefined;
}

/** A busybox httpd in the container, serving a page that says where it comes from, on port 80. */
export const WEB = [
  "sh",
  "-c",
  "mkdir -p /tmp/www && echo served-from-the-container > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www",
];

/** True when the process is gone (or only a zombie left for the machine's init to reap). */
export function gone(pid: number, started: string | undefined): boolean {
  const now = processStartTime(pid);
  return now === undefined || now !== started;
}

/** GET / over raw TCP from the host; retries (bounded) until the server in the container answers. */
export async function httpGet(port: number): Promise<string> {
  let last = "";
  for (let i = 0; i < 100; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const timer = setTimeout(() => conn.close(), 5_000); // a stuck read ends with the connection
      try {
        await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
        let text = "";
        const buf = new Uint8Array(4096);
        for (let j = 0; j < 100; j++) {
          const n = await conn.read(buf);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        if (text) return text;
      } finally {
        clearTimeout(timer);
        try {
          conn.close();
        } catch {
          // closed by the timer
        }
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer on 127.0.0.1:${port}: ${last}`);
}
