/** Serving one object from R2 (or the edge cache): Range, ETag, 304, If-Range, HEAD, types. */

/** A byte range resolved against an object's size: `[offset, offset + length)`. */
export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * The one range a `Range` header asks for, against `size`:
 * `null` to serve the whole object (no header, a syntax we do not serve such as several ranges —
 * RFC 9110 lets a server ignore Range), `"unsatisfiable"` for a 416.
 */
export function parseRange(header: string | null, size: number): ByteRange | null | "unsatisfiable" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  if (start >= size) return "unsatisfiable";
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (end < start) return null; // invalid: ignore the header
  return { offset: start, length: end - start + 1 };
}

/** Whether an `If-None-Match` list matches `etag` (weak comparison, `*` matches anything). */
export function noneMatch(header: string | null, etag: string): boolean {
  if (!header) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

/** Whether `If-Range` lets the Range apply: absent, or the strong, current ETag. */
export function rangeApplies(header: string | null, etag: string): boolean {
  if (!header) return true;
  const value = header.trim();
  return !value.startsWith("W/") && value === etag;
}

/** Content-addressed shards (`parts/<sha256>.parquet`) never change: cache them for a year. */
export function isImmutable(key: string): boolean {
  return /\/parts\/[0-9a-f]{64}\.parquet$/.test(key);
}

export const IMMUTABLE = "public, max-age=31536000, immutable";
/** Manifests, indexes, metadata, READMEs change with each publish. */
export const SHORT_LIVED = "public, max-age=60";

const TYPES: Record<string, string> = {
  parquet: "application/vnd.apache.parquet",
  json: "application/json",
  md: "text/markdown; charset=utf-8",
};

/** The Content-Type of a key by its extension (`application/octet-stream` otherwise). */
export function contentType(key: string): string {
  const ext = key.slice(key.lastIndexOf(".") + 1).toLowerCase();
  return TYPES[ext] ?? "application/octet-stream";
}

/** The headers every answer about `key` carries. */
export function objectHeaders(key: string, etag: string, size: number, uploaded?: Date): Headers {
  const h = new Headers({
    "Content-Type": contentType(key),
    ETag: etag,
    "Accept-Ranges": "bytes",
    "Cache-Control": isImmutable(key) ? IMMUTABLE : SHORT_LIVED,
    "Content-Length": String(size),
  });
  if (uploaded) h.set("Last-Modified", uploaded.toUTCString());
  return h;
}
