/**
 * The OpenData edge gateway: registry-signed links checked at the edge, limits per key / IP /
 * namespace, objects served from an R2 binding, content-addressed shards cached at the edge, one
 * usage event per request.
 *
 * The hot path reads no KV: the signature is checked with the shared secret alone; the deny-list
 * of revoked subjects is one KV value held in memory for `DENY_CACHE_SECONDS`.
 */

import { Link, Refusal, parseLink, sign, verify } from "./link";
import { IMMUTABLE, isImmutable, noneMatch, objectHeaders, parseRange, rangeApplies } from "./serve";

export interface Env {
  BUCKET: R2Bucket;
  DENYLIST: KVNamespace;
  RL_ANON_IP: RateLimit;
  RL_KEY_FREE: RateLimit;
  RL_KEY_PRO: RateLimit;
  RL_KEY_ENTERPRISE: RateLimit;
  RL_NAMESPACE: RateLimit;
  USAGE?: AnalyticsEngineDataset;
  USAGE_QUEUE?: Queue<UsageEvent>;
  /** R2 key prefix in front of `datasets/` (the registry's store prefix); default none. */
  KEY_PREFIX?: string;
  /** The rate-limit bindings' period (10 or 60): the Retry-After of a 429. */
  RATE_LIMIT_PERIOD?: string;
  DENY_CACHE_SECONDS?: string;
  /** Where the queue consumer posts usage batches (the registry's `/v1/gateway/usage`). */
  USAGE_INGEST_URL?: string;
  /** The signing key id that signs usage batches (its secret is `SIGNING_KEY_<id>`). */
  USAGE_KEY_ID?: string;
  [secret: `SIGNING_KEY_${string}`]: string | undefined;
}

/** One request at the edge, as the registry's usage ingest reads it. */
export interface UsageEvent {
  ts: number;
  sub: string;
  ns: string;
  dataset: string;
  method: string;
  status: number;
  bytes: number;
  cache: "hit" | "miss" | "none";
  reason?: string;
}

const DENY_KEY = "denied";
let denied: { at: number; subjects: Set<string> } | undefined;

/** The revoked subjects (`key:<id>`), from KV at most once per `DENY_CACHE_SECONDS` per isolate. */
async function deniedSubjects(env: Env, now: number): Promise<Set<string>> {
  const ttl = Number(env.DENY_CACHE_SECONDS ?? "30");
  if (denied && now - denied.at < ttl) return denied.subjects;
  const doc = await env.DENYLIST.get<{ subjects?: string[] }>(DENY_KEY, "json");
  denied = { at: now, subjects: new Set(doc?.subjects ?? []) };
  return denied.subjects;
}

const KEY_LIMITERS: Record<string, keyof Env> = {
  free: "RL_KEY_FREE",
  pro: "RL_KEY_PRO",
  enterprise: "RL_KEY_ENTERPRISE",
};

/** Apply the limits: per key (its tier's binding) or per client IP (anonymous), and per namespace. */
async function limit(env: Env, link: Link, request: Request): Promise<void> {
  const checks: [RateLimit, string, string][] = [];
  const keyed = link.sub.startsWith("key:") ? KEY_LIMITERS[link.tier] : undefined;
  if (keyed) {
    checks.push([env[keyed] as RateLimit, link.sub, `key ${link.sub} (${link.tier} tier)`]);
  } else {
    const ip = request.headers.get("CF-Connecting-IP") ?? "unknown";
    checks.push([env.RL_ANON_IP, `ip:${ip}`, `client IP ${ip} (anonymous)`]);
  }
  checks.push([env.RL_NAMESPACE, `ns:${link.ns}`, `namespace ${link.ns}`]);
  for (const [binding, key, what] of checks) {
    const { success } = await binding.limit({ key });
    if (!success) {
      throw new Refusal(429, "rate_limited", `too many requests for ${what} at this edge location`, "slow down, or use a key of a higher tier");
    }
  }
}

function problem(r: Refusal, env: Env): Response {
  const headers = new Headers({ "Content-Type": "application/problem+json", "Cache-Control": "no-store" });
  if (r.status === 429) headers.set("Retry-After", env.RATE_LIMIT_PERIOD ?? "60");
  if (r.status === 405) headers.set("Allow", "GET, HEAD");
  const body = { code: r.code, message: r.message, status: r.status, ...(r.hint ? { hint: r.hint } : {}) };
  return new Response(JSON.stringify(body), { status: r.status, headers });
}

/** The Cache API key of an object: its key alone, so any valid link for it shares the entry. */
function cacheKey(request: Request, key: string): string {
  return `${new URL(request.url).origin}/__cache/${encodeURIComponent(key)}`;
}

/** Answer from the edge cache when the object is there (immutable shards only). */
async function fromCache(request: Request, key: string): Promise<Response | undefined> {
  const cache = caches.default;
  const full = await cache.match(cacheKey(request, key));
  if (!full) return undefined;
  const etag = full.headers.get("ETag") ?? "";
  const size = Number(full.headers.get("Content-Length") ?? "0");
  const headers = objectHeaders(key, etag, size);
  headers.set("X-OpenData-Cache", "HIT");
  if (noneMatch(request.headers.get("If-None-Match"), etag)) {
    await full.body?.cancel();
    headers.delete("Content-Length");
    return new Response(null, { status: 304, headers });
  }
  const range = rangeApplies(request.headers.get("If-Range"), etag) ? parseRange(request.headers.get("Range"), size) : null;
  if (range === "unsatisfiable") {
    await full.body?.cancel();
    throw new Refusal(416, "range_not_satisfiable", `the range is outside the object's ${size} bytes`);
  }
  if (range) {
    await full.body?.cancel();
    // The cache answers a ranged match itself (206), without reading the whole object.
    const part = await cache.match(new Request(cacheKey(request, key), { headers: { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } }));
    if (!part) return undefined;
    headers.set("Content-Length", String(range.length));
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`);
    return new Response(request.method === "HEAD" ? null : part.body, { status: 206, headers });
  }
  return new Response(request.method === "HEAD" ? (await full.body?.cancel(), null) : full.body, { status: 200, headers });
}

/** Answer from R2; a whole immutable shard is also put in the edge cache. */
async function fromBucket(request: Request, env: Env, key: string, ctx: ExecutionContext): Promise<Response> {
  const r2key = `${env.KEY_PREFIX ?? ""}${key}`;
  const head = await env.BUCKET.head(r2key);
  if (!head) throw new Refusal(404, "not_found", `no object ${key}`);
  const etag = head.httpEtag;
  const headers = objectHeaders(key, etag, head.size, head.uploaded);
  headers.set("X-OpenData-Cache", isImmutable(key) ? "MISS" : "BYPASS");
  if (noneMatch(request.headers.get("If-None-Match"), etag)) {
    headers.delete("Content-Length");
    return new Response(null, { status: 304, headers });
  }
  const range = rangeApplies(request.headers.get("If-Range"), etag) ? parseRange(request.headers.get("Range"), head.size) : null;
  if (range === "unsatisfiable") {
    throw new Refusal(416, "range_not_satisfiable", `the range is outside the object's ${head.size} bytes`);
  }
  if (request.method === "HEAD") {
    if (range) {
      headers.set("Content-Length", String(range.length));
      headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    }
    return new Response(null, { status: range ? 206 : 200, headers });
  }
  const object = await env.BUCKET.get(r2key, range ? { range } : {});
  if (!object || !("body" in object)) throw new Refusal(404, "not_found", `no object ${key}`);
  if (range) {
    headers.set("Content-Length", String(range.length));
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    return new Response(object.body, { status: 206, headers });
  }
  if (isImmutable(key)) {
    const [mine, cached] = object.body.tee();
    const store = new Headers(headers);
    store.set("Cache-Control", IMMUTABLE);
    store.delete("X-OpenData-Cache");
    ctx.waitUntil(caches.default.put(cacheKey(request, key), new Response(cached, { headers: store })));
    return new Response(mine, { status: 200, headers });
  }
  return new Response(object.body, { status: 200, headers });
}

function record(env: Env, ctx: ExecutionContext, event: UsageEvent): void {
  env.USAGE?.writeDataPoint({
    indexes: [event.sub],
    blobs: [event.sub, event.ns, event.dataset, event.method, event.cache, event.reason ?? ""],
    doubles: [event.status, event.bytes],
  });
  if (env.USAGE_QUEUE) ctx.waitUntil(env.USAGE_QUEUE.send(event));
}

/** Handle one request (exported for the tests). */
export async function handle(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const now = Math.floor(Date.now() / 1000);
  const event: UsageEvent = { ts: now, sub: "unverified", ns: "", dataset: "", method: request.method, status: 0, bytes: 0, cache: "none" };
  let response: Response;
  try {
    if (request.method !== "GET" && request.method !== "HEAD") {
      throw new Refusal(405, "bad_request", `method ${request.method} is not allowed`);
    }
    const link = parseLink(new URL(request.url));
    await verify(env as unknown as Record<string, unknown>, link, request.method, now);
    event.sub = link.sub;
    event.ns = link.ns;
    event.dataset = link.key.split("/").slice(1, 3).join("/");
    if ((await deniedSubjects(env, now)).has(link.sub)) {
      throw new Refusal(403, "permission_denied", `access for ${link.sub} was revoked`, "create a new API key");
    }
    await limit(env, link, request);
    const cached = isImmutable(link.key) ? await fromCache(request, link.key) : undefined;
    response = cached ?? (await fromBucket(request, env, link.key, ctx));
    event.cache = cached ? "hit" : isImmutable(link.key) ? "miss" : "none";
  } catch (exc) {
    if (!(exc instanceof Refusal)) throw exc;
    event.reason = exc.code;
    response = problem(exc, env);
    if (exc.status === 416) response.headers.set("Content-Range", `bytes */${/(\d+) bytes/.exec(exc.message)?.[1] ?? "*"}`);
  }
  event.status = response.status;
  event.bytes = request.method === "HEAD" || response.status >= 300 ? 0 : Number(response.headers.get("Content-Length") ?? "0");
  record(env, ctx, event);
  return response;
}

/** Post a batch of usage events to the registry, signed with `USAGE_KEY_ID`'s secret. */
export async function postUsage(env: Env, events: UsageEvent[]): Promise<Response> {
  const url = env.USAGE_INGEST_URL;
  const kid = env.USAGE_KEY_ID;
  if (!url || !kid) throw new Error("USAGE_INGEST_URL and USAGE_KEY_ID must be set to post usage");
  const body = JSON.stringify({ events });
  const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const expires = Math.floor(Date.now() / 1000) + 300;
  const path = new URL(url).pathname;
  const text = ["POST", path, String(expires), kid, digest].join("\n");
  const signature = await sign(env as unknown as Record<string, unknown>, kid, text);
  return fetch(url, {
    method: "POST",
    body,
    headers: {
      "Content-Type": "application/json",
      Authorization: `OpenData-Gateway kid=${kid}, expires=${expires}, signature=${signature}`,
    },
  });
}

export default {
  fetch: handle,
  async queue(batch: MessageBatch<UsageEvent>, env: Env): Promise<void> {
    const response = await postUsage(env, batch.messages.map((m) => m.body));
    if (!response.ok) batch.retryAll({ delaySeconds: 10 });
    else batch.ackAll();
  },
} satisfies ExportedHandler<Env, UsageEvent>;
