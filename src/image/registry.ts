/**
 * A client for the OCI distribution API: manifests and blobs, anonymous and
 * bearer-token auth (the `WWW-Authenticate` challenge), basic auth, redirects
 * (fetch follows them and drops the Authorization header across origins),
 * retries with backoff on 5xx/429/connection errors, and blob downloads that
 * resume with `Range` after a broken connection. Every request has a deadline
 * for its answer (connect, TLS, response headers) and every read of a body an
 * idle timeout, so a registry that accepts and never answers, or trickles,
 * ends the command with its name instead of hanging it.
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

/** A registry did not answer in time (connect, headers, or a pause in a body). */
export class RegistryTimeoutError extends RegistryError {}

/** Podman's dial timeout: how long a registry may stay silent, unless NOOK_REGISTRY_TIMEOUT says otherwise. */
export const DEFAULT_REGISTRY_TIMEOUT_S = 30;

/** The timeout in ms from `NOOK_REGISTRY_TIMEOUT` (seconds, fractions allowed), else the default. */
export function registryTimeoutMs(): number {
  const text = Deno.env.get("NOOK_REGISTRY_TIMEOUT");
  if (text === undefined || text === "") return DEFAULT_REGISTRY_TIMEOUT_S * 1000;
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 86400) {
    throw new NookError(`NOOK_REGISTRY_TIMEOUT must be a number of seconds between 0 and 86400, not "${text}"`, {
      hint: `unset it for the default of ${DEFAULT_REGISTRY_TIMEOUT_S} s`,
    });
  }
  return s * 1000;
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
  /** Longest wait for an answer: connection, TLS and response headers (default {@link registryTimeoutMs}). */
  connectTimeoutMs?: number;
  /** Longest pause while reading a body (default {@link registryTimeoutMs}). */
  readTimeoutMs?: number;
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
  private probing: Promise<"https" | "http"> | undefined;
  private readonly insecure: boolean;
  private readonly attempts: number;
  private readonly backoff: number;
  private tokens = new Map<string, string>();
  private basic: string | undefined;
  private challenge: Challenge | undefined;
  private readonly connectMs: number;
  private readonly readMs: number;
  /** The abort handle of each response's request, so a stalled body can be cut off. */
  private readonly controllers = new WeakMap<Response, AbortController>();

  /** A client for `host`. */
  constructor(host: string, private opts: RegistryOptions = {}) {
    this.host = host;
    this.insecure = opts.tlsVerify === false || isLocalHost(host);
    this.attempts = opts.attempts ?? (Number(Deno.env.get("NOOK_PULL_RETRIES")) || 5);
    this.backoff = opts.backoffMs ?? 250;
    const fallback = opts.connectTimeoutMs === undefined || opts.readTimeoutMs === undefined ? registryTimeoutMs() : 0;
    this.connectMs = opts.connectTimeoutMs ?? fallback;
    this.readMs = opts.readTimeoutMs ?? fallback;
  }

  private timeout(url: string | URL, phase: "answer" | "read", ms: number): RegistryTimeoutError {
    const origin = new URL(url).host;
    const where = origin === this.apiHost
      ? `The registry "${this.host}"`
      : `"${origin}" (for the registry "${this.host}")`;
    const what = phase === "answer"
      ? `did not answer within ${ms / 1000} s`
      : `stopped sending data (nothing for ${ms / 1000} s)`;
    return new RegistryTimeoutError(`${where} ${what}`, {
      hint: "check that the registry is up and reachable from here; NOOK_REGISTRY_TIMEOUT=SECONDS waits longer",
    });
  }

  /**
   * fetch with a deadline for the answer (connect, TLS, headers). The body is
   * read through {@link read}, which gives each pause the idle timeout.
   */
  private async timedFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(this.timeout(url, "answer", this.connectMs)), this.connectMs);
    try {
      const res = await fetch(url, { ...init, signal: ctl.signal });
      this.controllers.set(res, ctl);
      return res;
    } catch (err) {
      if (ctl.signal.aborted && ctl.signal.reason instanceof RegistryTimeoutError) throw ctl.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A response's body, chunk by chunk; a pause longer than the read timeout ends it with a {@link RegistryTimeoutError}. */
  async *read(res: Response): AsyncGenerator<Uint8Array> {
    if (!res.body) return;
    const ctl = this.controllers.get(res);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const timer = setTimeout(() => ctl?.abort(this.timeout(res.url, "read", this.readMs)), this.readMs);
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          if (ctl?.signal.aborted && ctl.signal.reason instanceof RegistryTimeoutError) throw ctl.signal.reason;
          throw err;
        } finally {
          clearTimeout(timer);
        }
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  /** A whole (small) body, at most `limit` bytes, read with the idle timeout. */
  async bytes(res: Response, limit: number, what: string): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of this.read(res)) {
      n += c.length;
      if (n > limit) throw new RegistryError(`The ${what} from "${this.host}" is larger than ${limit} bytes`);
      parts.push(c);
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
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
    // docker's rule for insecure registries: HTTPS first, plain HTTP when TLS fails; one probe
    // for all the requests that start together (a push's parallel uploads)
    this.probing ??= (async () => {
      try {
        const r = await fetch(`https://${this.apiHost}/v2/`, {
          headers: { "User-Agent": USER_AGENT },
          signal: AbortSignal.timeout(Math.min(5000, this.connectMs)),
        });
        await r.body?.cancel();
        return "https" as const;
      } catch {
        return "http" as const;
      }
    })();
    this.scheme = await this.probing;
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
    // a push that mounts a blob asks for two repositories at once: one scope parameter each
    for (const s of scope.split(" ")) if (s) url.searchParams.append("scope", s);
    const headers: Record<string, string> = { "User-Agent": USER_AGENT };
    if (creds) headers.Authorization = `Basic ${btoa(`${creds.username}:${creds.password}`)}`;
    let tr: Response;
    try {
      tr = await this.retrying(`token from ${url.host}`, () => this.timedFetch(url, { headers }));
    } catch (err) {
      if (err instanceof RegistryTimeoutError) throw err;
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
    let body: { token?: string; access_token?: string };
    try {
      body = JSON.parse(new TextDecoder().decode(await this.bytes(tr, 1 << 20, "access token")));
    } catch (err) {
      if (err instanceof NookError) throw err;
      throw new RegistryError(`The token service of "${this.host}" sent no JSON`, { cause: err });
    }
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
        // nothing listens there, or the name or the certificate is wrong, or it stayed silent for
        // the whole timeout: asking again will not help
        if (
          err instanceof RegistryTimeoutError || attempt >= this.attempts ||
          /refused|dns error|blocked|certificate|UnknownIssuer|invalid peer/i.test(
            `${why} ${(err as { cause?: unknown }).cause ?? ""}`,
          )
        ) {
          throw err;
        }
      }
      this.opts.onRetry?.(what, attempt, why);
      await sleep(this.backoff * 2 ** (attempt - 1) * (0.75 + Math.random() / 2));
    }
  }

  /**
   * A request to the API with auth and retries; the response is returned as is (any status).
   * `path` is under the API's origin, or an absolute URL (an upload's Location). With `once`,
   * a failure is not retried here: an upload that may have been half taken is restarted by its caller.
   */
  async request(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Uint8Array; once?: boolean } = {},
    scope = "",
  ): Promise<Response> {
    const base = await this.base();
    const url = /^https?:\/\//.test(path) ? path : `${base}${path}`;
    let sentAuth = "";
    const send = () => {
      const auth = this.authHeaders(scope);
      sentAuth = auth.Authorization ?? "";
      return this.timedFetch(url, {
        method: init.method ?? "GET",
        headers: { "User-Agent": USER_AGENT, ...init.headers, ...auth },
        redirect: "follow",
        ...(init.body ? { body: init.body as Uint8Array<ArrayBuffer> } : {}),
      });
    };
    const go = () => init.once ? send() : this.retrying(`${init.method ?? "GET"} ${path}`, send);
    let res: Response;
    try {
      res = await go();
      // parallel requests (a push's blobs) meet the challenge together: when another one answered it
      // while this one was on its way, this one goes again with that answer
      const answered = () => (this.authHeaders(scope).Authorization ?? "") !== sentAuth;
      if (res.status === 401 && (answered() || await this.authenticate(res, scope))) {
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
      const bytes = await this.bytes(res, 64 * 1024, "error");
      const body = JSON.parse(new TextDecoder().decode(bytes)) as { errors?: { code?: string; message?: string }[] };
      code = body.errors?.[0]?.code;
      detail = body.errors?.[0]?.message ?? "";
    } catch {
      // not JSON, too long, or it stalled: the status says enough
    }
    // a server error's own words ("unknown error") say little: name the status and the registry
    const text = res.status >= 500
      ? `${what}: the registry "${this.host}" failed with HTTP ${res.status}${detail ? ` (${detail})` : ""}`
      : `${what}: ${detail || code || `HTTP ${res.status}`}`;
    let hint: string | undefined;
    if (res.status === 401 || res.status === 403) {
      hint = this.opts.credentials
        ? `the registry refused your credentials for this; check them with nook login ${this.host}`
        : `the image may be private: nook login ${this.host}`;
    } else if (res.status === 404) {
      hint = "check the name and the tag";
    } else if (res.status >= 500) {
      hint = "the registry has a problem of its own; try again later, or ask its operators";
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
    const bytes = await this.bytes(res, 4 * 1024 * 1024, `manifest of ${repository}:${reference}`);
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
        for await (let chunk of this.read(res)) {
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
        // a stall is not retried: the registry had the whole timeout to send the next byte
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

  /** True when the repository has the blob already (HEAD; a push skips it). */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request(
      `/v2/${repository}/blobs/${digest}`,
      { method: "HEAD" },
      `repository:${repository}:pull,push`,
    );
    await res.body?.cancel();
    if (res.ok) return true;
    if (res.status === 404) return false;
    return await this.fail(res, `Cannot check for the blob ${digest} in ${this.host}/${repository}`);
  }

  /**
   * Start a blob upload. With `mount`, ask the registry to link the blob from
   * another repository instead (a cross-repository mount): resolves with
   * "mounted" when it did, else with the upload's URL (registries that cannot
   * mount start a plain upload instead).
   */
  async startUpload(
    repository: string,
    mount?: { digest: string; from: string },
  ): Promise<"mounted" | string> {
    const query = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : "";
    const scope = `repository:${repository}:pull,push${mount ? ` repository:${mount.from}:pull` : ""}`;
    const res = await this.request(
      `/v2/${repository}/blobs/uploads/${query}`,
      { method: "POST", headers: { "Content-Length": "0" } },
      scope,
    );
    await res.body?.cancel().catch(() => {});
    if (mount && res.status === 201) return "mounted";
    if (res.status !== 202) {
      return await this.fail(res, `Cannot start an upload to ${this.host}/${repository}`);
    }
    return await this.location(res, `the upload to ${repository}`);
  }

  /** The absolute URL of a response's Location header (uploads answer with one). */
  private async location(res: Response, what: string): Promise<string> {
    const loc = res.headers.get("location");
    if (!loc) throw new RegistryError(`The registry "${this.host}" sent no Location for ${what}`);
    return new URL(loc, `${await this.base()}/`).toString();
  }

  /**
   * Send one chunk of an upload (PATCH with Content-Range, as the distribution
   * spec's chunked upload); resolves with the URL for the next request.
   */
  async uploadChunk(repository: string, url: string, chunk: Uint8Array, offset: number): Promise<string> {
    const res = await this.request(url, {
      method: "PATCH",
      once: true,
      body: chunk,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(chunk.length),
        "Content-Range": `${offset}-${offset + chunk.length - 1}`,
      },
    }, `repository:${repository}:pull,push`);
    await res.body?.cancel().catch(() => {});
    if (res.status !== 202) return await this.fail(res, `Uploading to ${this.host}/${repository} failed`);
    return await this.location(res, `the upload to ${repository}`);
  }

  /** Finish an upload with its digest, sending `last` (the whole blob, for a monolithic upload) with it. */
  async finishUpload(repository: string, url: string, digest: string, last?: Uint8Array): Promise<void> {
    const u = new URL(url);
    u.searchParams.set("digest", digest);
    const res = await this.request(u.toString(), {
      method: "PUT",
      once: true,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(last?.length ?? 0) },
      ...(last ? { body: last } : {}),
    }, `repository:${repository}:pull,push`);
    await res.body?.cancel().catch(() => {});
    if (res.status !== 201 && res.status !== 204) {
      return await this.fail(res, `The registry "${this.host}" did not accept the blob ${digest}`);
    }
  }

  /** Store a manifest or index under a tag or digest; resolves with the digest the registry reports. */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<string | null> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, {
      method: "PUT",
      body: bytes,
      headers: { "Content-Type": mediaType },
    }, `repository:${repository}:pull,push`);
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) {
      return await this.fail(res, `The registry "${this.host}" refused the manifest for ${repository}:${reference}`);
    }
    await res.body?.cancel().catch(() => {});
    return res.headers.get("docker-content-digest");
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
