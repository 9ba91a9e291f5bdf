import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { handle, type Env, type UsageEvent } from "../worker/index";
import { sign, stringToSign } from "../worker/link";

export const testEnv = env as unknown as Env;

export interface LinkOptions {
  sub?: string;
  tier?: string;
  ns?: string;
  expires?: number;
  method?: string;
  kid?: string;
}

let counter = 0;
/** A namespace of its own per test: the rate-limit counters live as long as the runtime. */
export function freshNs(): string {
  counter += 1;
  return `ns${counter}${Math.random().toString(36).slice(2, 8)}`;
}

/** A gateway URL for `key`, signed as the registry signs (its string is checked by the vectors). */
export async function linkFor(key: string, o: LinkOptions = {}): Promise<string> {
  const ns = o.ns ?? key.split("/")[1];
  const fields = {
    key,
    expires: o.expires ?? Math.floor(Date.now() / 1000) + 600,
    kid: o.kid ?? "k1",
    sub: o.sub ?? "key:1",
    tier: o.tier ?? "pro",
    ns,
  };
  const signature = await sign(testEnv as unknown as Record<string, unknown>, fields.kid, stringToSign(o.method ?? "GET", fields));
  const q = new URLSearchParams({
    expires: String(fields.expires),
    kid: fields.kid,
    sub: fields.sub,
    tier: fields.tier,
    ns: fields.ns,
    signature,
  });
  return `https://gw.test/${key.split("/").map(encodeURIComponent).join("/")}?${q}`;
}

/** Run one request through the Worker and wait for its background work (cache put, usage). */
export async function call(
  url: string,
  init: RequestInit = {},
  events?: UsageEvent[],
  points?: AnalyticsEngineDataPoint[],
): Promise<Response> {
  const ctx = createExecutionContext();
  let e: Env = testEnv;
  if (events) e = { ...e, USAGE_QUEUE: { send: async (ev: UsageEvent) => void events.push(ev) } as unknown as Queue<UsageEvent> };
  if (points) e = { ...e, USAGE: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p!) } };
  const response = await handle(new Request(url, init), e, ctx);
  const body = await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response(response.status === 304 || response.status === 204 ? null : body, {
    status: response.status,
    headers: response.headers,
  });
}

export function bytes(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x & 0xff;
  }
  return out;
}

export function shardKey(ns: string, name = "prices"): string {
  const hex = [...bytes(32, ns.length + name.length)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `datasets/${ns}/${name}/parts/${hex}.parquet`;
}
