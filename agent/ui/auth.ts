import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * Who may use the page: whoever holds the secret token, from this machine's loopback, through a name that
 * is this server's own. The token arrives once in the URL `cloudbridge open` prints (`/?token=…`), which
 * sets it as an HttpOnly cookie for this port; API calls carry the cookie, and writes also carry the
 * token in a header the page's script sends (a form or an image on another site cannot set headers
 * without a CORS preflight, which this server never answers), an Origin that is the page's own and no
 * cross-site Sec-Fetch-Site. The Host header must name the loopback address and this port: a site whose
 * name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
 */
export const TOKEN_HEADER = "x-cloudbridge-token";

export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

export function cookieName(port: number): string {
  return `cloudbridge-${port}`;
}

export type Verdict = { ok: true } | { ok: false; status: 400 | 401 | 403 | 421; reason: string };

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

export function allowedHosts(port: number): Set<string> {
  return new Set(LOOPBACK_NAMES.map((name) => `${name}:${port}`));
}

/** Checks every request: the Host, then the token (cookie, header, or `?token=` on the page itself). */
export function checkRequest(request: IncomingMessage, url: URL, port: number, token: string): Verdict {
  const host = (request.headers.host ?? "").toLowerCase();
  if (!allowedHosts(port).has(host)) return { ok: false, status: 421, reason: `this page answers only to 127.0.0.1:${port}` };
  const offered = tokenOf(request, url, port);
  if (!offered || !sameSecret(offered, token))
    return { ok: false, status: 401, reason: "the page needs its token: open it with `cloudbridge open`" };
  return { ok: true };
}

/** A request that changes something must come from the page itself. */
export function checkWrite(request: IncomingMessage, port: number, token: string): Verdict {
  const origin = request.headers.origin;
  if (!origin || !allowedHosts(port).has(origin.replace(/^http:\/\//, "").toLowerCase()) || !origin.startsWith("http://"))
    return { ok: false, status: 403, reason: "a change must come from the page itself (Origin)" };
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin")
    return { ok: false, status: 403, reason: "a change must come from the page itself (Sec-Fetch-Site)" };
  const header = request.headers[TOKEN_HEADER];
  if (typeof header !== "string" || !sameSecret(header, token))
    return { ok: false, status: 403, reason: "a change must carry the page's token header" };
  return { ok: true };
}

function tokenOf(request: IncomingMessage, url: URL, port: number): string | undefined {
  const header = request.headers[TOKEN_HEADER];
  if (typeof header === "string") return header;
  const fromQuery = url.searchParams.get("token");
  if (fromQuery && url.pathname === "/") return fromQuery;
  const name = cookieName(port);
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
