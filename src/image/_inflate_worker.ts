/**
 * Worker thread of layer unpacking: hashes the compressed stream (the blob
 * digest), decompresses it (gzip/zstd/none) and hashes the result (the diff
 * ID), so that the main thread only parses tar and writes files. With two
 * cores this is what brings unpacking near `tar -xzf`, which also runs its
 * decompressor in a second process.
 *
 * Protocol (structured messages, chunks transferred, never copied):
 *   main → worker  {t:"data", chunk} … {t:"end"}   {t:"ack"} per "out" it consumed
 *   worker → main  {t:"out", chunk}  {t:"taken"} per "data" consumed
 *                  {t:"done", blob, diff, size} | {t:"error", message}
 */
/// <reference lib="deno.worker" />
import zlib from "node:zlib";
import { createHash } from "node:crypto";

type In = { t: "start"; kind: "gzip" | "zstd" | "none" } | { t: "data"; chunk: Uint8Array } | { t: "end" } | {
  t: "ack";
};

const MAX_UNACKED = 16;

let blobHash = createHash("sha256");
let diffHash = createHash("sha256");
let size = 0;
let unacked = 0;
let resumeOut: (() => void) | undefined;
let dec: ReturnType<typeof zlib.createGunzip> | undefined;
let failed = false;

function emit(chunk: Uint8Array): void {
  diffHash.update(chunk);
  size += chunk.length;
  // a copy (Buffer#slice would be a view): zlib reuses its output buffer,
  // and transferring it would detach it under zlib's feet
  const own = new Uint8Array(chunk);
  unacked++;
  self.postMessage({ t: "out", chunk: own }, [own.buffer as ArrayBuffer]);
}

function error(err: unknown): void {
  if (failed) return;
  failed = true;
  self.postMessage({ t: "error", message: (err as Error).stack ?? String(err) });
}

function finish(): void {
  self.postMessage({ t: "done", blob: blobHash.digest("hex"), diff: diffHash.digest("hex"), size });
}

self.onmessage = (e: MessageEvent<In>) => {
  const m = e.data;
  switch (m.t) {
    case "start":
      blobHash = createHash("sha256");
      diffHash = createHash("sha256");
      size = 0;
      unacked = 0;
      failed = false;
      dec = undefined;
      if (m.kind !== "none") {
        const d = m.kind === "gzip"
          ? zlib.createGunzip({ chunkSize: 256 * 1024 })
          : zlib.createZstdDecompress({ chunkSize: 256 * 1024 });
        d.on("data", (chunk: Uint8Array) => {
          emit(chunk);
          if (unacked >= MAX_UNACKED) {
            d.pause();
            resumeOut = () => d.resume();
          }
        });
        d.on("error", error);
        d.on("end", () => {
          if (!failed) finish();
        });
        dec = d;
      }
      break;
    case "data": {
      if (failed) return;
      blobHash.update(m.chunk);
      if (!dec) {
        emit(m.chunk);
        self.postMessage({ t: "taken" });
        return;
      }
      const ok = dec.write(m.chunk);
      if (ok) self.postMessage({ t: "taken" });
      else dec.once("drain", () => self.postMessage({ t: "taken" }));
      break;
    }
    case "end":
      if (failed) return;
      if (dec) dec.end();
      else finish();
      break;
    case "ack":
      unacked--;
      if (unacked < MAX_UNACKED / 2 && resumeOut) {
        const r = resumeOut;
        resumeOut = undefined;
        r();
      }
      break;
  }
};
