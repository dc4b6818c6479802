/**
 * A client for the OCI distribution API: manifests and blobs, anonymous and
 * bearer-token auth (the `WWW-Authenticate` challenge), basic auth, redirects
 * (fetch follows them and drops the Authorization header across origins),
 * retries with backoff on 5xx/429/connection errors, and blob downloads that
 * resume with `Range` after a broken connection.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import type { Credentials } from "./auth.ts";
import { MANIFEST_TYPES } from "./manifest.ts";

/** A registry refused or failed a request. */
export class RegistryError extends NookError {
  /** HTTP status, when there was a response. */
  status: number | undefined;
  /** Registry error code ("MANIFEST_UNKNOWN"…), when it sent one. */
  registryCode: string | undefined;
  /** The download broke off; what arrived is good to resume from. */
  resumable: boolean;

  /** Make one. */
  constructor(
    message: string,
    fields: ConstructorParameters<typeof NookError>[1] & {
      status?: number;
      registryCode?: string;
      resumable?: boolean;
    } = {},
  ) {
    super(message, fields);
    this.status = fields.status;
    this.registryCode = fields.registryCode;
    this.resumable = fields.resumable ?? false;
  }
}

/** Options of a {@link Registry}. */
export interface RegistryOptions {
  /** false: plain HTTP is allowed for this registry (as for localhost). */
  tlsVerify?: boolean;
  /** Credentials for basic auth and for the token endpoint. */
  credentials?: Credentials | undefined;
  /** Attempts per request before giving up (default 5, `NOOK_PULL_RETRIES`). */
  attempts?: number;
  /** First backoff delay in ms (doubles each time; default 250). */
  backoffMs?: number;
  /** Called when a request is retried. */
  onRetry?: (what: string, attempt: number, why: string) => void;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const USER_AGENT = "nook (rootless container runtime)";

/** Hosts that may be spoken to over plain HTTP without asking (docker's rule). */
export function isLocalHost(host: string): boolean {
  const h = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse a WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One registry (host[:port]). */
export class Registry {
  /** Host as the user wrote it ("docker.io", "localhost:5000"). */
  readonly host: string;
  private scheme: "https" | "http" | undefined;
  private readonly insecure: boolean;
  private readonly attempts: number;
  private readonly backoff: number;
  private tokens = new Map<string, string>();
  private basic: string | undefined;
  private challenge: Challenge | undefined;

  /** A client for `host`. */
  constructor(host: string, private opts: RegistryOptions = {}) {
    this.host = host;
    this.insecure = opts.tlsVerify === false || isLocalHost(host);
    this.attempts = opts.attempts ?? (Number(Deno.env.get("NOOK_PULL_RETRIES")) || 5);
    this.backoff = opts.backoffMs ?? 250;
  }

  /** The API host: docker.io's lives at registry-1.docker.io. */
  get apiHost(): string {
    return this.host === "docker.io" ? "registry-1.docker.io" : this.host;
  }

  private async base(): Promise<string> {
    if (this.scheme) return `${this.scheme}://${this.apiHost}`;
    if (!this.insecure) {
      this.scheme = "https";
      return `https://${this.apiHost}`;
    }
    if (isLocalHost(this.host) && this.opts.tlsVerify !== false) {
      // a registry on this machine: plain HTTP, as docker and podman run them for development
      this.scheme = "http";
      return `http://${this.apiHost}`;
    }
    // docker's rule for insecure registries: HTTPS first, plain HTTP when TLS fails
    try {
      const r = await fetch(`https://${this.apiHost}/v2/`, {
        headers: { "User-Agent": USER_AGENT },
        signal: AbortSignal.timeout(5000),
      });
      await r.body?.cancel();
      this.scheme = "https";
    } catch {
      this.scheme = "http";
    }
    return `${this.scheme}://${this.apiHost}`;
  }

  private authHeaders(scope: string): Record<string, string> {
    const token = this.tokens.get(scope);
    if (token) return { Authorization: `Bearer ${token}` };
    if (this.basic) return { Authorization: this.basic };
    return {};
  }

  /** Answer a 401's challenge: fetch a token for the scope, or use basic auth. True when there is something new to try. */
  private async authenticate(res: Response, scope: string): Promise<boolean> {
    const header = res.headers.get("www-authenticate");
    const ch = header ? parseChallenge(header) : undefined;
    if (!ch) return false;
    this.challenge = ch;
    const creds = this.opts.credentials;
    if (ch.scheme === "basic") {
      if (!creds || this.basic) return false;
      this.basic = `Basic ${btoa(`${creds.username}:${creds.password}`)}`;
      return true;
    }
    if (ch.scheme !== "bearer" || !ch.params.realm) return false;
    if (this.tokens.has(scope)) return false; // the token we had was refused
    const url = new URL(ch.params.realm);
    if (ch.params.service) url.searchParams.set("service", ch.params.service);
    if (scope) url.searchParams.set("scope", scope);
    const headers: Record<string, string> = { "User-Agent": USER_AGENT };
    if (creds) headers.Authorization = `Basic ${btoa(`${creds.username}:${creds.password}`)}`;
    let tr: Response;
    try {
      tr = await this.retrying(`token from ${url.host}`, () => fetch(url, { headers }));
    } catch (err) {
      throw new RegistryError(`Cannot get an access token from "${url.origin}": ${(err as Error).message}`, {
        cause: err,
        hint: "check the network and the registry's auth service",
      });
    }
    if (!tr.ok) {
      await tr.body?.cancel();
      throw new RegistryError(
        `The registry's token service refused ${creds ? "your credentials" : "an anonymous token"} (HTTP ${tr.status})`,
        {
          status: tr.status,
          hint: creds
            ? `log in again: nook login ${this.host}`
            : `this registry needs credentials: nook login ${this.host}`,
          exitCode: 125,
        },
      );
    }
    const body = await tr.json() as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`The token service of "${this.host}" sent no token`);
    this.tokens.set(scope, token);
    return true;
  }

  /** fetch with retries on connection errors and retryable statuses. */
  private async retrying(what: string, fn: () => Promise<Response>): Promise<Response> {
    for (let attempt = 1;; attempt++) {
      let why: string;
      try {
        const res = await fn();
        if (!RETRY_STATUS.has(res.status) || attempt >= this.attempts) return res;
        why = `HTTP ${res.status}`;
        await res.body?.cancel();
      } catch (err) {
        why = (err as Error).message;
        // nothing listens there, or the name or the certificate is wrong: asking again will not help
        if (attempt >= this.attempts || /refused|dns error|blocked|certificate|UnknownIssuer|invalid peer/i.test(why)) {
          throw err;
        }
      }
      this.opts.onRetry?.(what, attempt, why);
      await sleep(this.backoff * 2 ** (attempt - 1) * (0.75 + Math.random() / 2));
    }
  }

  /** A request to the API with auth and retries; the response is returned as is (any status). */
  async request(
    path: string,
    init: { method?: string; headers?: Record<string, string> } = {},
    scope = "",
  ): Promise<Response> {
    const base = await this.base();
    const go = () =>
      this.retrying(`${init.method ?? "GET"} ${path}`, () =>
        fetch(`${base}${path}`, {
          method: init.method ?? "GET",
          headers: { "User-Agent": USER_AGENT, ...init.headers, ...this.authHeaders(scope) },
          redirect: "follow",
        }));
    let res: Response;
    try {
      res = await go();
      if (res.status === 401 && await this.authenticate(res, scope)) {
        await res.body?.cancel();
        res = await go();
      }
    } catch (err) {
      if (err instanceof NookError) throw err;
      throw new RegistryError(`Cannot reach the registry "${this.host}": ${(err as Error).message}`, {
        cause: err,
        hint: this.insecure
          ? "check that the registry runs and the address is right"
          : "check the address and the network; for a registry without TLS use --tls-verify=false",
      });
    }
    return res;
  }

  /** Turn an error response into a RegistryError (consumes the body). */
  async fail(res: Response, what: string): Promise<never> {
    let code: string | undefined;
    let detail = "";
    try {
      const body = await res.json() as { errors?: { code?: string; message?: string }[] };
      code = body.errors?.[0]?.code;
      detail = body.errors?.[0]?.message ?? "";
    } catch {
      // not JSON
    }
    const text = `${what}: ${detail || code || `HTTP ${res.status}`}`;
    let hint: string | undefined;
    if (res.status === 401 || res.status === 403) {
      hint = this.opts.credentials
        ? `the registry refused your credentials for this; check them with nook login ${this.host}`
        : `the image may be private: nook login ${this.host}`;
    } else if (res.status === 404) {
      hint = "check the name and the tag";
    }
    throw new RegistryError(text, {
      status: res.status,
      ...(code ? { registryCode: code } : {}),
      ...(hint ? { hint } : {}),
    });
  }

  /** Fetch a manifest or index by tag or digest: its bytes, media type and digest header. */
  async manifest(
    repository: string,
    reference: string,
  ): Promise<{ bytes: Uint8Array; mediaType: string; digest: string | null }> {
    const res = await this.request(
      `/v2/${repository}/manifests/${reference}`,
      { headers: { Accept: MANIFEST_TYPES.join(", ") } },
      `repository:${repository}:pull`,
    );
    if (!res.ok) return await this.fail(res, `Cannot get the manifest of ${this.host}/${repository}:${reference}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > 4 * 1024 * 1024) {
      throw new RegistryError(`The manifest of ${repository}:${reference} is larger than 4 MiB`);
    }
    return {
      bytes,
      mediaType: res.headers.get("content-type")?.split(";")[0]?.trim() ?? "",
      digest: res.headers.get("docker-content-digest"),
    };
  }

  /** A whole small blob (a config) in memory. */
  async blobBytes(repository: string, digest: string, size: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of this.blob(repository, digest, size)) parts.push(c);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  }

  /**
   * The bytes of a blob from `offset`, as one stream even when the connection
   * breaks: it asks again with `Range: bytes=N-` (or skips what it has when
   * the server ignores ranges), with backoff, up to the attempt limit.
   * Never yields more than `size` bytes in total.
   */
  async *blob(repository: string, digest: string, size: number, offset = 0): AsyncGenerator<Uint8Array> {
    let got = offset;
    let failures = 0;
    const scope = `repository:${repository}:pull`;
    while (got < size || (size === 0 && got === 0 && failures === 0)) {
      const headers: Record<string, string> = got > 0 ? { Range: `bytes=${got}-` } : {};
      const res = await this.request(`/v2/${repository}/blobs/${digest}`, { headers }, scope);
      if (!res.ok) return await this.fail(res, `Cannot get the blob ${digest} of ${this.host}/${repository}`);
      let skip = got > 0 && res.status !== 206 ? got : 0; // no range support: drop what we have
      const before = got;
      try {
        for await (let chunk of res.body!) {
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          if (got + chunk.length > size) {
            throw new RegistryError(`The blob ${digest} is larger than the ${size} bytes its descriptor says`, {
              hint: "the registry sent other content than the manifest describes; nothing was stored",
            });
          }
          got += chunk.length;
          yield chunk;
        }
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        if (++failures >= this.attempts) {
          throw new RegistryError(
            `Downloading ${digest} failed after ${failures} attempts: ${(err as Error).message}`,
            {
              cause: err,
              resumable: true,
              hint: "the connection keeps breaking; run the pull again (it resumes)",
            },
          );
        }
        this.opts.onRetry?.(`blob ${digest.slice(7, 19)}`, failures, (err as Error).message);
        await sleep(this.backoff * 2 ** (failures - 1));
        continue;
      }
      if (size === 0) break;
      if (got < size) {
        if (got === before && ++failures >= this.attempts) {
          throw new RegistryError(`The registry ended the blob ${digest} after ${got} of ${size} bytes`, {
            resumable: true,
          });
        }
        this.opts.onRetry?.(`blob ${digest.slice(7, 19)}`, failures, `connection ended after ${got} of ${size} bytes`);
      }
    }
  }

  /** Check that the registry accepts us (for `nook login`): GET /v2/ with the challenge answered. */
  async ping(): Promise<void> {
    const res = await this.request("/v2/", {}, "");
    if (res.ok) {
      await res.body?.cancel();
      return;
    }
    return await this.fail(res, `The registry "${this.host}" refused the login`);
  }

  /** The last auth challenge seen (for tests and messages). */
  get lastChallenge(): Challenge | undefined {
    return this.challenge;
  }
}
