import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The Worker runs inside workerd with its wrangler.toml bindings (R2, KV, rate limits, analytics,
// queue), local only; the test secrets and a tiny burst limit come from these overrides.
export default defineConfig({
  plugins: [
    cloudflareTest({
      remoteBindings: false,
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          SIGNING_KEY_k1: "ssssssssssssssssssssssssssssssss",
          SIGNING_KEY_k2: "another-secret-of-32-characters!!",
          SIGNING_KEY_2026_12: "ssssssssssssssssssssssssssssssss",
          DENY_CACHE_SECONDS: "0",
          // Loopback (the discard port): a batch a test leaves in the queue is never sent off this machine.
          USAGE_INGEST_URL: "http://127.0.0.1:9/v1/gateway/usage",
        },
        ratelimits: {
          RL_ANON_IP: { namespace_id: "2701", simple: { limit: 5, period: 10 } },
          RL_KEY_FREE: { namespace_id: "2702", simple: { limit: 5, period: 10 } },
          RL_KEY_PRO: { namespace_id: "2703", simple: { limit: 1000, period: 10 } },
          RL_KEY_ENTERPRISE: { namespace_id: "2704", simple: { limit: 1000, period: 10 } },
          RL_NAMESPACE: { namespace_id: "2705", simple: { limit: 12, period: 10 } },
        },
      },
    }),
  ],
  test: { testTimeout: 20000 },
});
