// The signing vectors shared with the Python signer (opendata_core.gateway): both must agree.
import { describe, expect, it } from "vitest";
import doc from "../../opendata-core/src/opendata_core/data/gateway_vectors.json";
import { Refusal, parseLink, sign, stringToSign, verify } from "../worker/link";

const gateway = doc.vectors.filter((v) => v.kind === "gateway");

function envFor(kid: string, secret: string): Record<string, unknown> {
  return { [`SIGNING_KEY_${kid}`]: secret };
}

describe("shared signing vectors", () => {
  it("covers several vectors", () => {
    expect(gateway.length).toBeGreaterThanOrEqual(5);
    expect(doc.invalid.length).toBeGreaterThanOrEqual(3);
  });

  for (const v of gateway) {
    it(`agrees on ${v.method} ${v.key} (${v.kid}, ${v.sub})`, async () => {
      const link = parseLink(new URL(v.url!));
      expect(link).toEqual({
        key: v.key,
        expires: v.expires,
        kid: v.kid,
        sub: v.sub,
        tier: v.tier,
        ns: v.ns,
        signature: v.signature,
      });
      expect(stringToSign(v.method, link)).toBe(v.string_to_sign);
      const env = envFor(v.kid!, v.secret);
      expect(await sign(env, v.kid!, v.string_to_sign)).toBe(v.signature);
      await expect(verify(env, link, v.method, v.expires)).resolves.toBeUndefined();
      // one second after its expiry the same link is refused as expired
      await expect(verify(env, link, v.method, v.expires + 1)).rejects.toMatchObject({ code: "link_expired" });
      // another secret under the same key id refuses it
      await expect(verify(envFor(v.kid!, "x".repeat(32)), link, v.method, v.expires)).rejects.toBeInstanceOf(Refusal);
    });
  }

  for (const v of doc.invalid) {
    it(`refuses the invalid ${v.field} ${JSON.stringify((v as Record<string, unknown>)[v.field])}`, async () => {
      const env = envFor("k1", "s".repeat(32));
      const attempt = async () => {
        const q = new URLSearchParams({ expires: String(v.expires), kid: v.kid, sub: v.sub, tier: v.tier, ns: v.ns, signature: "0".repeat(64) });
        const url = new URL(`https://gw.test/${v.key.split("/").map(encodeURIComponent).join("/")}?${q}`);
        await verify(env, parseLink(url), v.method, 0);
      };
      await expect(attempt()).rejects.toBeInstanceOf(Refusal);
    });
  }
});
