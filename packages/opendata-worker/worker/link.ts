/**
 * Registry-signed gateway links, verified without any lookup.
 *
 * The string to sign is defined once, in `opendata_core/gateway.py`; this is its TypeScript
 * reading, checked against the same JSON vectors (`opendata_core/data/gateway_vectors.json`).
 * It is the registry's `/files` rule (method, key, expiry) followed by the key id, the subject,
 * the tier and the namespace, one per line.
 */

export const KEY_ID = /^[A-Za-z0-9_]{1,32}$/;
const CONTROL = /[\x00-\x1f\x7f]/;
const HEX64 = /^[0-9a-f]{64}$/;

/** What a link grants, read from its path and query (not yet verified). */
export interface Link {
  key: string;
  expires: number;
  kid: string;
  sub: string;
  tier: string;
  ns: string;
  signature: string;
}

/** Why a link is refused: a stable code (also the usage event's reason) and a message. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The text the signature covers (same as core's `string_to_sign`). */
export function stringToSign(method: string, link: Omit<Link, "signature">): string {
  const fields = [method, link.key, String(link.expires), link.kid, link.sub, link.tier, link.ns];
  for (const f of fields) {
    if (!f || CONTROL.test(f)) throw new Refusal(403, "permission_denied", "malformed signed link");
  }
  return fields.join("\n");
}

/**
 * The object key of a request path, or a refusal: only `datasets/...`, no `.`/`..`/empty segment,
 * no backslash or control character (the URL parser already folded `/../`, this catches `%2F..`).
 */
export function keyOf(pathname: string): string {
  let key: string;
  try {
    key = decodeURIComponent(pathname.replace(/^\//, ""));
  } catch {
    throw new Refusal(400, "bad_request", "the path is not valid percent-encoding");
  }
  const segments = key.split("/");
  if (
    segments[0] !== "datasets" ||
    segments.length < 4 ||
    segments.some((s) => s === "" || s === "." || s === "..") ||
    key.includes("\\") ||
    CONTROL.test(key)
  ) {
    throw new Refusal(
      403,
      "permission_denied",
      `the gateway serves only dataset objects (datasets/<ns>/<name>/...), not ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/** The link in a request URL (key from the path, the rest from the query). */
export function parseLink(url: URL): Link {
  const key = keyOf(url.pathname);
  const q = url.searchParams;
  const [expires, kid, sub, tier, ns, signature] = ["expires", "kid", "sub", "tier", "ns", "signature"].map(
    (n) => q.get(n) ?? "",
  );
  if (!expires || !kid || !sub || !tier || !ns || !signature) {
    throw new Refusal(
      403,
      "permission_denied",
      "the link is not signed (expires, kid, sub, tier, ns and signature are required)",
      "ask the registry for a fresh download link",
    );
  }
  if (!/^\d{1,12}$/.test(expires) || !KEY_ID.test(kid) || !HEX64.test(signature)) {
    throw new Refusal(403, "permission_denied", "malformed signed link");
  }
  return { key, expires: Number(expires), kid, sub, tier, ns, signature };
}

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key of `kid` (imported once per isolate), or undefined when the Worker lacks it. */
function hmacKey(env: Record<string, unknown>, kid: string): Promise<CryptoKey> | undefined {
  const secret = env[`SIGNING_KEY_${kid}`];
  if (typeof secret !== "string" || !secret) return undefined;
  const cacheKey = `${kid}\n${secret}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(cacheKey, key);
  }
  return key;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hex HMAC-SHA256 of `text` with the secret of `kid` (signing usage batches, tests). */
export async function sign(env: Record<string, unknown>, kid: string, text: string): Promise<string> {
  const key = hmacKey(env, kid);
  if (!key) throw new Refusal(500, "internal", `no secret SIGNING_KEY_${kid}`);
  return hex(await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(text)));
}

/**
 * Verify a link for `method` (a HEAD may use a GET link: it shows no more than the GET would).
 * `crypto.subtle.verify` compares in constant time. Throws a Refusal (403) when it fails.
 */
export async function verify(env: Record<string, unknown>, link: Link, method: string, now: number): Promise<void> {
  const key = hmacKey(env, link.kid);
  if (!key) {
    throw new Refusal(403, "permission_denied", `unknown signing key id ${JSON.stringify(link.kid)}`, "ask the registry for a fresh download link");
  }
  if (!link.key.startsWith(`datasets/${link.ns}/`)) {
    throw new Refusal(403, "permission_denied", "the link's namespace does not match its key");
  }
  const signature = hexBytes(link.signature);
  const methods = method === "HEAD" ? ["HEAD", "GET"] : [method];
  let ok = false;
  for (const m of methods) {
    const text = new TextEncoder().encode(stringToSign(m, link));
    if (await crypto.subtle.verify("HMAC", await key, signature, text)) ok = true;
  }
  if (!ok) throw new Refusal(403, "permission_denied", "the link's signature does not match", "ask the registry for a fresh download link");
  if (link.expires < now) {
    throw new Refusal(403, "link_expired", `the link expired at ${new Date(link.expires * 1000).toISOString()}`, "ask the registry for a fresh download link");
  }
}
