import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { checkRequest, checkWrite, cookieName } from "../../../../agent/ui/auth.ts";

const PORT = 40123;
const TOKEN = "s3cret-token-value";
const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const at = (path: string) => new URL(path, "http://127.0.0.1");

describe("the page's request checks", () => {
  it("wants the token: by cookie for this port, by header, or in the page's own address", () => {
    const host = `127.0.0.1:${PORT}`;
    assert.equal(checkRequest(request({ host }), at("/api/status"), PORT, TOKEN).ok, false);
    assert.equal(checkRequest(request({ host, cookie: `a=b; ${cookieName(PORT)}=${TOKEN}` }), at("/api/status"), PORT, TOKEN).ok, true);
    assert.equal(checkRequest(request({ host, cookie: `${cookieName(PORT + 1)}=${TOKEN}` }), at("/api/status"), PORT, TOKEN).ok, false);
    assert.equal(checkRequest(request({ host, "x-cloudbridge-token": TOKEN }), at("/api/status"), PORT, TOKEN).ok, true);
    assert.equal(checkRequest(request({ host }), at(`/?token=${TOKEN}`), PORT, TOKEN).ok, true);
    assert.equal(
      checkRequest(request({ host }), at(`/api/status?token=${TOKEN}`), PORT, TOKEN).ok,
      false,
      "only the page itself takes it from the address",
    );
    const wrong = checkRequest(request({ host, "x-cloudbridge-token": `${TOKEN}x` }), at("/"), PORT, TOKEN);
    assert.deepEqual(wrong.ok ? 0 : wrong.status, 401);
  });

  it("answers only to its own loopback name and port", () => {
    const cookie = `${cookieName(PORT)}=${TOKEN}`;
    for (const host of [`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`, `LOCALHOST:${PORT}`])
      assert.equal(checkRequest(request({ host, cookie }), at("/"), PORT, TOKEN).ok, true, host);
    for (const host of ["", "127.0.0.1", `attacker.example:${PORT}`, `127.0.0.1:${PORT + 1}`, `localhost.attacker.example:${PORT}`]) {
      const verdict = checkRequest(request({ host, cookie }), at("/"), PORT, TOKEN);
      assert.equal(verdict.ok ? 0 : verdict.status, 421, host);
    }
  });

  it("lets a write through only from the page's own origin, same-origin, with the token header", () => {
    const good = { origin: `http://127.0.0.1:${PORT}`, "sec-fetch-site": "same-origin", "x-cloudbridge-token": TOKEN };
    assert.equal(checkWrite(request(good), PORT, TOKEN).ok, true);
    assert.equal(checkWrite(request({ ...good, origin: `http://localhost:${PORT}` }), PORT, TOKEN).ok, true);
    const { "sec-fetch-site": _site, ...noFetchMetadata } = good;
    assert.equal(checkWrite(request(noFetchMetadata), PORT, TOKEN).ok, true, "an older browser without Sec-Fetch-Site");
    for (const bad of [
      { ...good, origin: "http://attacker.example" },
      { ...good, origin: `http://127.0.0.1:${PORT + 1}` },
      { ...good, origin: "null" },
      { ...good, "sec-fetch-site": "same-site" },
      { ...good, "sec-fetch-site": "cross-site" },
      { ...good, "x-cloudbridge-token": "" },
      { origin: good.origin, "sec-fetch-site": "same-origin" },
    ]) {
      const verdict = checkWrite(request(bad), PORT, TOKEN);
      assert.equal(verdict.ok ? 0 : verdict.status, 403, JSON.stringify(bad));
    }
  });
});
