// The gateway inside workerd with its real local bindings: R2, KV, rate limits, cache.
import { describe, expect, it } from "vitest";
import type { UsageEvent } from "../worker/index";
import { bytes, call, freshNs, linkFor, shardKey, testEnv } from "./helpers";

async function putShard(ns = freshNs(), size = 1000) {
  const key = shardKey(ns);
  const data = bytes(size, ns.length);
  await testEnv.BUCKET.put(key, data);
  return { key, data, ns };
}

async function problem(r: Response): Promise<{ code: string; message: string }> {
  expect(r.headers.get("Content-Type")).toBe("application/problem+json");
  return r.json();
}

describe("signed links", () => {
  it("serves the exact key signed, with type, ETag and the immutable cache header", async () => {
    const { key, data } = await putShard();
    const r = await call(await linkFor(key));
    expect(r.status).toBe(200);
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(data);
    expect(r.headers.get("Content-Type")).toBe("application/vnd.apache.parquet");
    expect(r.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(r.headers.get("ETag")).toMatch(/^"[0-9a-f]+"$/);
    expect(r.headers.get("Content-Length")).toBe("1000");
  });

  it("refuses an expired link", async () => {
    const { key } = await putShard();
    const r = await call(await linkFor(key, { expires: Math.floor(Date.now() / 1000) - 1 }));
    expect(r.status).toBe(403);
    expect((await problem(r)).code).toBe("link_expired");
  });

  it("refuses a tampered link: each signed field, the signature, an unknown key id", async () => {
    const { key } = await putShard();
    const good = new URL(await linkFor(key, { tier: "free" }));
    const edits: [string, string][] = [
      ["expires", String(Number(good.searchParams.get("expires")) + 3600)],
      ["sub", "key:2"],
      ["tier", "enterprise"],
      ["kid", "k2"],
      ["kid", "nosuchkey"],
      ["signature", "0".repeat(64)],
      ["signature", "zz"],
    ];
    for (const [name, value] of edits) {
      const bad = new URL(good);
      bad.searchParams.set(name, value);
      const r = await call(bad.toString());
      expect([name, r.status]).toEqual([name, 403]);
    }
    const unsigned = new URL(good);
    unsigned.search = "";
    const r = await call(unsigned.toString());
    expect(r.status).toBe(403);
    expect((await problem(r)).message).toContain("not signed");
  });

  it("serves only the key signed: the link of one key does not open another", async () => {
    const a = await putShard();
    const other = `datasets/${a.ns}/prices/manifest.json`;
    await testEnv.BUCKET.put(other, "{}");
    const url = new URL(await linkFor(a.key));
    url.pathname = `/${other}`;
    expect((await call(url.toString())).status).toBe(403);
  });

  it("checks the method: PUT is 405, a HEAD link does not GET, a GET link may HEAD", async () => {
    const { key } = await putShard();
    const put = await call(await linkFor(key), { method: "PUT", body: "x" });
    expect(put.status).toBe(405);
    expect(put.headers.get("Allow")).toBe("GET, HEAD");
    expect((await call(await linkFor(key, { method: "HEAD" }))).status).toBe(403);
    expect((await call(await linkFor(key, { method: "PUT" }))).status).toBe(403);
    const head = await call(await linkFor(key), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe("1000");
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it("refuses a link whose namespace is not the key's", async () => {
    const { key } = await putShard();
    const r = await call(await linkFor(key, { ns: "someone-else" }));
    expect(r.status).toBe(403);
    expect((await problem(r)).message).toContain("namespace");
  });

  it("refuses traversal and keys outside datasets/", async () => {
    const { key, ns } = await putShard();
    await testEnv.BUCKET.put("secret.txt", "no");
    const base = new URL(await linkFor(key));
    for (const path of [
      `/datasets/${ns}/prices/../../../secret.txt`,
      `/datasets/${ns}/prices/..%2F..%2F..%2Fsecret.txt`,
      `/datasets/${ns}/prices/%2e%2e/x`,
      `/datasets/${ns}//prices/x`,
      `/datasets/${ns}/prices/a%5C..%5Cx`,
      `/datasets/${ns}/prices/a%00b`,
      "/secret.txt",
      `/index.json`,
      `/other/${ns}/prices/x`,
    ]) {
      const u = `${base.origin}${path}${base.search}`;
      const r = await call(u);
      expect([path, r.status]).toEqual([path, 403]);
    }
    const r = await call(`${base.origin}/datasets/${ns}/prices/%E0%A4%A${base.search}`);
    expect(r.status).toBe(400);
  });

  it("revokes a deny-listed key id within the link's lifetime", async () => {
    const { key } = await putShard();
    const url = await linkFor(key, { sub: "key:99" });
    expect((await call(url)).status).toBe(200);
    await testEnv.DENYLIST.put("denied", JSON.stringify({ subjects: ["key:99"] }));
    const r = await call(url);
    expect(r.status).toBe(403);
    expect((await problem(r)).message).toContain("revoked");
    expect((await call(await linkFor(key, { sub: "key:100" }))).status).toBe(200);
    await testEnv.DENYLIST.delete("denied");
  });
});

describe("ranges and conditional requests", () => {
  it("answers single, suffix, open-ended and clamped ranges with 206", async () => {
    const { key, data } = await putShard(freshNs(), 1000);
    const url = await linkFor(key);
    const cases: [string, number, number][] = [
      ["bytes=0-9", 0, 9],
      ["bytes=990-", 990, 999],
      ["bytes=-5", 995, 999],
      ["bytes=-5000", 0, 999],
      ["bytes=500-99999", 500, 999],
      ["bytes=999-999", 999, 999],
    ];
    for (const [range, start, end] of cases) {
      const r = await call(url, { headers: { Range: range } });
      expect([range, r.status]).toEqual([range, 206]);
      expect(r.headers.get("Content-Range")).toBe(`bytes ${start}-${end}/1000`);
      expect(r.headers.get("Content-Length")).toBe(String(end - start + 1));
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(data.slice(start, end + 1));
    }
  });

  it("answers 416 for an unsatisfiable range and the whole object for one it does not serve", async () => {
    const { key } = await putShard(freshNs(), 1000);
    const url = await linkFor(key);
    for (const range of ["bytes=1000-", "bytes=5000-6000", "bytes=-0"]) {
      const r = await call(url, { headers: { Range: range } });
      expect([range, r.status]).toEqual([range, 416]);
      expect(r.headers.get("Content-Range")).toBe("bytes */1000");
    }
    for (const range of ["bytes=0-1,5-6", "items=0-5", "bytes=9-2", "bytes=abc"]) {
      const r = await call(url, { headers: { Range: range } });
      expect([range, r.status]).toEqual([range, 200]);
      expect((await r.arrayBuffer()).byteLength).toBe(1000);
    }
  });

  it("answers 304 to a matching If-None-Match, 200 otherwise", async () => {
    const { key } = await putShard();
    const url = await linkFor(key, { sub: "key:304" });
    const etag = (await call(url)).headers.get("ETag")!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const r = await call(url, { headers: { "If-None-Match": inm } });
      expect([inm, r.status]).toEqual([inm, 304]);
      expect(r.headers.get("ETag")).toBe(etag);
    }
    expect((await call(url, { headers: { "If-None-Match": '"other"' } })).status).toBe(200);
  });

  it("applies a Range only when If-Range names the current ETag", async () => {
    const { key } = await putShard();
    const url = await linkFor(key, { sub: "key:ifrange" });
    const etag = (await call(url, { method: "HEAD" })).headers.get("ETag")!;
    const same = await call(url, { headers: { Range: "bytes=0-9", "If-Range": etag } });
    expect(same.status).toBe(206);
    const stale = await call(url, { headers: { Range: "bytes=0-9", "If-Range": '"stale"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(1000);
  });

  it("serves manifests short-lived, with their JSON type, and never from the edge cache", async () => {
    const ns = freshNs();
    const key = `datasets/${ns}/prices/manifest.json`;
    await testEnv.BUCKET.put(key, '{"v":1}');
    const url = await linkFor(key);
    const r = await call(url);
    expect(r.status).toBe(200);
    expect(r.headers.get("Content-Type")).toBe("application/json");
    expect(r.headers.get("Cache-Control")).toBe("public, max-age=60");
    expect(r.headers.get("X-OpenData-Cache")).toBe("BYPASS");
    await testEnv.BUCKET.put(key, '{"v":2}');
    expect(await (await call(url)).text()).toBe('{"v":2}');
  });

  it("answers 404 for a signed key that does not exist", async () => {
    const r = await call(await linkFor(shardKey(freshNs())));
    expect(r.status).toBe(404);
  });
});

describe("edge cache", () => {
  it("serves the second read of a shard from the cache, to any valid link, ranges included", async () => {
    const { key, data } = await putShard();
    const first = await call(await linkFor(key, { sub: "key:c1" }));
    expect(first.headers.get("X-OpenData-Cache")).toBe("MISS");
    await testEnv.BUCKET.delete(key); // from now on only the cache can answer
    const second = await call(await linkFor(key, { sub: "key:c2" }));
    expect(second.status).toBe(200);
    expect(second.headers.get("X-OpenData-Cache")).toBe("HIT");
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(data);
    const part = await call(await linkFor(key, { sub: "key:c3" }), { headers: { Range: "bytes=-10" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("Content-Range")).toBe("bytes 990-999/1000");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(data.slice(990));
    const etag = second.headers.get("ETag")!;
    expect((await call(await linkFor(key, { sub: "key:c4" }), { headers: { "If-None-Match": etag } })).status).toBe(304);
    // the cache does not replace the link check
    expect((await call(await linkFor(key, { expires: 1 }))).status).toBe(403);
  });
});

describe("limits", () => {
  async function burst(urls: () => Promise<string>, n: number, init: RequestInit = {}): Promise<Response[]> {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await call(await urls(), init));
    return out;
  }

  // The binding's windows are fixed and aligned to the clock: a burst may straddle a rollover. So
  // each test sends 2 * limit + 1 requests (at least one lands over the limit in one window) and
  // asserts that the first `limit` pass (a rollover only ever resets a count).
  it("answers 429 with Retry-After after a burst on one key (free tier: 5 / 10 s in the tests)", async () => {
    const { key, ns } = await putShard();
    const rs = await burst(() => linkFor(key, { sub: "key:burst", tier: "free", ns }), 11);
    expect(rs.slice(0, 5).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const limited = rs.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(rs.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    expect(limited[0].headers.get("Retry-After")).toBe("10");
    expect((await problem(limited[0])).message).toContain("key:burst");
    // another key of the same tier is not limited by it
    expect((await call(await linkFor(key, { sub: "key:calm", tier: "free" }))).status).toBe(200);
  });

  it("takes the tier from the signed link: the same burst on a pro key passes", async () => {
    const { key, ns } = await putShard();
    const rs = await burst(() => linkFor(key, { sub: "key:burst-pro", tier: "pro", ns }), 11);
    expect(rs.map((r) => r.status)).toEqual(Array(11).fill(200));
  });

  it("limits anonymous links per client IP, not per link", async () => {
    const { key } = await putShard();
    const anon = () => linkFor(key, { sub: "ip:203.0.113.9", tier: "anonymous" });
    const rs = await burst(anon, 11, { headers: { "CF-Connecting-IP": "198.51.100.1" } });
    expect(rs.slice(0, 5).every((r) => r.status === 200)).toBe(true);
    const limited = rs.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0].headers.get("Retry-After")).toBe("10");
    expect((await problem(limited[0])).message).toContain("198.51.100.1");
    const other = await call(await anon(), { headers: { "CF-Connecting-IP": "198.51.100.2" } });
    expect(other.status).toBe(200);
  });

  it("limits a namespace across keys (12 / 10 s in the tests)", async () => {
    const { key, ns } = await putShard();
    let i = 0;
    const rs = await burst(() => linkFor(key, { sub: `key:ns${i++}`, tier: "pro", ns }), 25);
    expect(rs.slice(0, 12).every((r) => r.status === 200)).toBe(true);
    const limited = rs.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect((await problem(limited[0])).message).toContain(`namespace ${ns}`);
    const elsewhere = await putShard();
    expect((await call(await linkFor(elsewhere.key, { sub: "key:ns0", tier: "pro" }))).status).toBe(200);
  });
});

describe("usage events", () => {
  it("records one event per request: subject, dataset, bytes, status, cache", async () => {
    const { key, ns } = await putShard();
    const events: UsageEvent[] = [];
    await call(await linkFor(key, { sub: "key:u1" }), {}, events);
    await call(await linkFor(key, { sub: "key:u1" }), { headers: { Range: "bytes=0-99" } }, events);
    await call(await linkFor(key, { expires: 1 }), {}, events);
    expect(events.map((e) => [e.sub, e.dataset, e.status, e.bytes, e.cache])).toEqual([
      ["key:u1", `${ns}/prices`, 200, 1000, "miss"],
      ["key:u1", `${ns}/prices`, 206, 100, "hit"],
      ["unverified", "", 403, 0, "none"],
    ]);
    expect(events[2].reason).toBe("link_expired");
  });

  it("writes the same event to Analytics Engine, indexed by subject", async () => {
    const { key, ns } = await putShard();
    const points: AnalyticsEngineDataPoint[] = [];
    await call(await linkFor(key, { sub: "key:ae" }), { headers: { Range: "bytes=0-9" } }, undefined, points);
    expect(points).toEqual([
      { indexes: ["key:ae"], blobs: ["key:ae", ns, `${ns}/prices`, "GET", "miss", ""], doubles: [206, 10] },
    ]);
  });
});
