/**
 * OCI and docker (v2 schema 2) manifests, indexes and image configs: the
 * types, validation of what came from outside, and platform choice. No
 * modules loaded: `nook run` reads configs with this.
 */
import { NookError, UsageError } from "../errors/mod.ts";

/** A manifest, index or config could not be used. */
export class ManifestError extends NookError {}

/** Media types nook reads. */
export const MT = {
  OCI_INDEX: "application/vnd.oci.image.index.v1+json",
  OCI_MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  OCI_CONFIG: "application/vnd.oci.image.config.v1+json",
  OCI_LAYER: "application/vnd.oci.image.layer.v1.tar",
  OCI_LAYER_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
  OCI_LAYER_ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
  DOCKER_LIST: "application/vnd.docker.distribution.manifest.list.v2+json",
  DOCKER_MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
  DOCKER_CONFIG: "application/vnd.docker.container.image.v1+json",
  DOCKER_LAYER_GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DOCKER_FOREIGN_GZIP: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DOCKER_SCHEMA1: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** Every manifest and index type, for the Accept header. */
export const MANIFEST_TYPES: readonly string[] = [MT.OCI_INDEX, MT.DOCKER_LIST, MT.OCI_MANIFEST, MT.DOCKER_MANIFEST];

/** A content descriptor. */
export interface Descriptor {
  /** Media type. */
  mediaType: string;
  /** "sha256:…". */
  digest: string;
  /** Size in bytes. */
  size: number;
  /** Platform (index entries). */
  platform?: Platform;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Alternate locations (foreign layers). */
  urls?: string[];
}

/** os/architecture/variant. */
export interface Platform {
  /** "linux". */
  os: string;
  /** "amd64", "arm64"… */
  architecture: string;
  /** "v8", "v7"… */
  variant?: string;
}

/** An image manifest (OCI or docker v2.2). */
export interface Manifest {
  /** 2. */
  schemaVersion: number;
  /** Media type (may be absent in OCI). */
  mediaType?: string;
  /** The config blob. */
  config: Descriptor;
  /** Layers, bottom first. */
  layers: Descriptor[];
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** An image index / manifest list. */
export interface Index {
  /** 2. */
  schemaVersion: number;
  /** Media type. */
  mediaType?: string;
  /** The manifests, usually one per platform. */
  manifests: Descriptor[];
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** The runtime part of an image config (docker's "config"). */
export interface ContainerConfig {
  /** Default user "uid[:gid]" or name. */
  User?: string;
  /** Ports the image says it listens on, as keys: "80/tcp". */
  ExposedPorts?: Record<string, unknown>;
  /** "KEY=VALUE". */
  Env?: string[];
  /** Entrypoint argv. */
  Entrypoint?: string[] | null;
  /** Default command argv. */
  Cmd?: string[] | null;
  /** Paths that get anonymous volumes, as keys. */
  Volumes?: Record<string, unknown>;
  /** Working directory. */
  WorkingDir?: string;
  /** Labels. */
  Labels?: Record<string, string>;
  /** Signal that stops the container. */
  StopSignal?: string;
  /** docker's HEALTHCHECK: the test and its durations (ns). */
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
}

/** An image config (OCI / docker). */
export interface ImageConfig {
  /** Creation time. */
  created?: string;
  /** Author. */
  author?: string;
  /** "amd64"… */
  architecture: string;
  /** "linux". */
  os: string;
  /** "v8"… */
  variant?: string;
  /** Runtime defaults. */
  config?: ContainerConfig;
  /** The layers' diff IDs. */
  rootfs: { type: string; diff_ids: string[] };
  /** Build history. */
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
}

/** The host's platform in OCI terms. */
export function hostPlatform(): Platform {
  const arch = ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch] ?? Deno.build.arch;
  return arch === "arm64" ? { os: "linux", architecture: arch, variant: "v8" } : { os: "linux", architecture: arch };
}

/** Parse `--platform os/arch[/variant]` (also `arch` alone). */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length === 1 && parts[0]) return { os: "linux", architecture: normalizeArch(parts[0]) };
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
    throw new UsageError(`Invalid platform "${s}"`, {
      hint: "use OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7",
    });
  }
  const p: Platform = { os: parts[0]!, architecture: normalizeArch(parts[1]!) };
  if (parts[2]) p.variant = parts[2];
  return p;
}

function normalizeArch(a: string): string {
  return ({ x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", armel: "arm" } as Record<
    string,
    string
  >)[a] ?? a;
}

/** "os/arch[/variant]". */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** Does an index entry's platform serve the wanted one? (arm64 without a variant counts as v8.) */
export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  if (!want.variant) return true;
  const hv = have.variant ?? (have.architecture === "arm64" ? "v8" : undefined);
  return hv === want.variant;
}

/** Pick the manifest for a platform from an index, or explain what it offers. */
export function choosePlatform(index: Index, want: Platform, name: string): Descriptor {
  const usable = index.manifests.filter((m) => m.platform?.os !== "unknown"); // attestation manifests
  const exact = usable.find((m) => platformMatches(m.platform, want));
  if (exact) return exact;
  const offered = usable.map((m) => (m.platform ? formatPlatform(m.platform) : "?"));
  throw new ManifestError(`"${name}" has no image for ${formatPlatform(want)}`, {
    hint: `it offers: ${offered.join(", ") || "nothing"}; choose one with --platform`,
  });
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Descriptor;
  if (!o || typeof o !== "object" || typeof o.digest !== "string" || !DIGEST_RE.test(o.digest)) {
    throw new ManifestError(`The ${what} has a descriptor without a valid sha256 digest`, {
      hint: "nook supports sha256 content only",
    });
  }
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new ManifestError(`The ${what} has a descriptor with a bad size`);
  }
  return o;
}

/** What a manifest-ish document is, from its media type or its shape. */
export function manifestKind(doc: unknown, mediaType?: string): "index" | "manifest" {
  const o = doc as { mediaType?: string; manifests?: unknown; layers?: unknown; schemaVersion?: number };
  const mt = mediaType?.split(";")[0]?.trim() || o?.mediaType;
  if (
    mt === MT.DOCKER_SCHEMA1 || mt === "application/vnd.docker.distribution.manifest.v1+json" || o?.schemaVersion === 1
  ) {
    throw new ManifestError("The image uses the docker v2 schema 1 manifest format, which nook does not read", {
      hint: "schema 1 is deprecated; push the image again with a current docker, podman or skopeo",
    });
  }
  if (mt === MT.OCI_INDEX || mt === MT.DOCKER_LIST || Array.isArray(o?.manifests)) return "index";
  if (mt === MT.OCI_MANIFEST || mt === MT.DOCKER_MANIFEST || Array.isArray(o?.layers)) return "manifest";
  throw new ManifestError(`Unknown manifest type "${mt ?? "(none)"}"`);
}

/** Validate an index. */
export function parseIndex(doc: unknown): Index {
  const o = doc as Index;
  if (!o || !Array.isArray(o.manifests)) throw new ManifestError("The image index has no manifests list");
  o.manifests = o.manifests.map((m) => descriptor(m, "image index"));
  return o;
}

/** Validate an image manifest. */
export function parseManifest(doc: unknown): Manifest {
  const o = doc as Manifest;
  if (!o || typeof o !== "object" || !Array.isArray(o.layers)) {
    throw new ManifestError("The image manifest has no layers list");
  }
  o.config = descriptor(o.config, "image manifest's config");
  o.layers = o.layers.map((l) => descriptor(l, "image manifest's layer"));
  return o;
}

/** Validate an image config against the number of layers it describes. */
export function parseConfig(doc: unknown, layerCount?: number): ImageConfig {
  const o = doc as ImageConfig;
  if (!o || typeof o !== "object" || !o.rootfs || !Array.isArray(o.rootfs.diff_ids)) {
    throw new ManifestError("The image config has no rootfs.diff_ids");
  }
  for (const d of o.rootfs.diff_ids) {
    if (typeof d !== "string" || !DIGEST_RE.test(d)) {
      throw new ManifestError(`The image config has a bad diff ID "${d}"`);
    }
  }
  if (layerCount !== undefined && o.rootfs.diff_ids.length !== layerCount) {
    throw new ManifestError(
      `The image config lists ${o.rootfs.diff_ids.length} layers but the manifest has ${layerCount}`,
      { hint: "the image is malformed" },
    );
  }
  return o;
}

/** True for layer media types nook can unpack. */
export function isLayerType(mt: string): boolean {
  return /^application\/vnd\.(oci\.image\.layer\.v1\.tar|oci\.image\.layer\.nondistributable\.v1\.tar|docker\.image\.rootfs\.(foreign\.)?diff\.tar)(\.gzip|\+gzip|\+zstd)?$/
    .test(mt);
}
