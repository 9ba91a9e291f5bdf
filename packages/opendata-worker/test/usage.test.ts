// The queue consumer posts signed batches of usage events to the registry.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker, { postUsage, type UsageEvent } from "../worker/index";
import { sign } from "../worker/link";
import { testEnv } from "./helpers";

const event: UsageEvent = { ts: 1, sub: "key:1", ns: "a", dataset: "a/b", method: "GET", status: 200, bytes: 10, cache: "hit" };

afterEach(() => vi.restoreAllMocks());

describe("usage batches", () => {
  it("posts the batch with an HMAC over method, path, expiry, key id and body digest", async () => {
    const seen: Request[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      seen.push(new Request(input as string, init));
      return new Response("{}", { status: 200 });
    });
    expect((await postUsage(testEnv, [event, event])).status).toBe(200);
    const req = seen[0];
    expect(req.url).toBe("http://127.0.0.1:9/v1/gateway/usage");
    const body = await req.text();
    expect(JSON.parse(body)).toEqual({ events: [event, event] });
    const auth = /^OpenData-Gateway kid=(\w+), expires=(\d+), signature=([0-9a-f]{64})$/.exec(req.headers.get("Authorization")!)!;
    expect(auth[1]).toBe("k1");
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const text = ["POST", "/v1/gateway/usage", auth[2], "k1", digest].join("\n");
    expect(auth[3]).toBe(await sign(testEnv as unknown as Record<string, unknown>, "k1", text));
  });

  it("acks a delivered batch and retries one the registry refused", async () => {
    const spy = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("{}", { status: 200 }));
    const ok = createMessageBatch<UsageEvent>("opendata-gateway-usage", [{ id: "m1", timestamp: 1, attempts: 1, body: event }]);
    const ctx = createExecutionContext();
    await worker.queue(ok, testEnv);
    expect((await getQueueResult(ok, ctx)).ackAll).toBe(true);
    spy.mockResolvedValue(new Response("no", { status: 401 }));
    const refused = createMessageBatch<UsageEvent>("opendata-gateway-usage", [{ id: "m2", timestamp: 1, attempts: 1, body: event }]);
    const ctx2 = createExecutionContext();
    await worker.queue(refused, testEnv);
    expect((await getQueueResult(refused, ctx2)).retryBatch.retry).toBe(true);
  });
});
