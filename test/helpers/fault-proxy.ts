import { Agent, createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A loopback HTTP proxy between an AWS SDK (pointed at it through AWS_ENDPOINT_URL) and the local cloud,
 * injecting the failures a real network and a real S3 produce, each at a configured rate:
 *
 * - `error500` / `error503`: S3's InternalError / ServiceUnavailable (in SQS's and SNS's own error shapes), the request
 *   never reaches the cloud;
 * - `slowDown`: 503 with S3's `SlowDown` XML body, never reaches the cloud;
 * - `resetBefore`: the client's connection is reset (TCP RST) before anything is forwarded;
 * - `resetAfter`: the request is forwarded, the cloud applies it and answers, and the client's connection
 *   is reset instead of relaying the answer (the client cannot know its write happened);
 * - `cutBody`: the answer's status and headers are relayed, then half its body, then the connection closes;
 * - `delay`: the request waits `delayMs` before anything else happens (combines with the others).
 *
 * Decisions come from a seeded PRNG. So that a failure reproduces even though concurrent clients
 * interleave differently from one run to the next, the decision for a request depends only on the seed,
 * its method and path, and how many requests with that method and path came before it. `setDown` makes
 * an outage: every connection reset at once ("reset": the network says no), or every request left
 * unanswered for good ("blackhole": packets lost, the connection silent, as when a laptop leaves its Wi-Fi).
 */
export type Fault = "error500" | "error503" | "slowDown" | "resetBefore" | "resetAfter" | "cutBody";

export const FAULTS: readonly Fault[] = ["error500", "error503", "slowDown", "resetBefore", "resetAfter", "cutBody"];

export type FaultRates = Partial<Record<Fault | "delay", number>>;

export interface Decision {
  fault: Fault | undefined;
  delayMs: number;
}

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns numbers in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a, 32 bits. */
function hash32(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Which fault each request gets: a pure function of the seed, the rates and the requests seen so far. */
export class FaultPlan {
  readonly seed: number;
  rates: FaultRates;
  delayMs: number;
  private readonly seen = new Map<string, number>();

  constructor(seed: number, rates: FaultRates = {}, delayMs = 1000) {
    const total = FAULTS.reduce((sum, f) => sum + (rates[f] ?? 0), 0);
    if (total > 1)
      throw new Error(`fault rates add up to ${total}; they are probabilities of exclusive outcomes and must add up to at most 1`);
    this.seed = seed;
    this.rates = rates;
    this.delayMs = delayMs;
  }

  next(method: string, path: string): Decision {
    const id = `${method} ${path}`;
    const n = this.seen.get(id) ?? 0;
    this.seen.set(id, n + 1);
    const random = prng(hash32(`${id}#${n}`, this.seed));
    const delayMs = random() < (this.rates.delay ?? 0) ? this.delayMs : 0;
    let draw = random();
    for (const fault of FAULTS) {
      draw -= this.rates[fault] ?? 0;
      if (draw < 0) return { fault, delayMs };
    }
    return { fault: undefined, delayMs };
  }
}

export interface FaultProxyOptions {
  /** The real endpoint, e.g. http://127.0.0.1:4566. */
  target: string;
  seed: number;
  rates?: FaultRates;
  delayMs?: number;
  /** Requests that never get a fault (e.g. the test's own checks); default: none. */
  exempt?: (method: string, path: string) => boolean;
  /**
   * Chosen faults for chosen requests, before any drawn one: `n` counts the earlier requests with the same
   * method and path (0 for the first), so "the first GET of this key is cut" is `n === 0 ? "cutBody" : undefined`.
   * `action`: what an SQS request asks (its X-Amz-Target, e.g. "AmazonSQS.ReceiveMessage": every SQS request is `POST /`).
   */
  script?: (method: string, path: string, n: number, action: string | undefined) => Fault | undefined;
}

export interface InjectedRecord {
  method: string;
  path: string;
  fault: Fault | "delay" | "outage";
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>: put it in AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly plan: FaultPlan;
  /** Requests received, and how many of each fault were injected. */
  readonly counts: Record<Fault | "delay" | "outage" | "requests", number>;
  /** Every injected fault, in order (for a failing test's message). */
  readonly injected: InjectedRecord[];
  /** Turns faults on or off (rates replaced as a whole). */
  setRates(rates: FaultRates): void;
  /**
   * An outage until turned off (false): "reset" resets every open connection and every new one;
   * "blackhole" leaves every request from now on unanswered, even after the outage (its packets were lost).
   */
  setDown(mode: "reset" | "blackhole" | false): void;
  /**
   * Refuses every request signed with this access key id, never forwarded, as AWS refuses a key it no longer
   * knows (403 InvalidAccessKeyId: a key rotated away while a process still holds it), or, `"expired"`,
   * session credentials past their expiry (S3's 400 ExpiredToken).
   */
  refuseKey(accessKeyId: string, why?: "rotated" | "expired"): void;
  stop(): Promise<void>;
}

// Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus Expect: the proxy answers it.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"]);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

const S3_ERRORS: Record<"error500" | "error503" | "slowDown", { status: number; code: string; message: string }> = {
  error500: { status: 500, code: "InternalError", message: "We encountered an internal error. Please try again." },
  error503: { status: 503, code: "ServiceUnavailable", message: "Service is unable to handle request." },
  slowDown: { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
};

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const plan = new FaultPlan(options.seed, options.rates, options.delayMs);
  const upstreamAgent = new Agent({ keepAlive: true });
  const counts: FaultProxy["counts"] = { requests: 0, delay: 0, outage: 0, ...Object.fromEntries(FAULTS.map((f) => [f, 0])) } as never;
  const injected: InjectedRecord[] = [];
  const sockets = new Set<Socket>();
  const scripted = new Map<string, number>();
  let down: "reset" | "blackhole" | false = false;

  const record = (method: string, path: string, fault: InjectedRecord["fault"]) => {
    counts[fault] += 1;
    injected.push({ method, path, fault });
  };
  const reset = (socket: Socket) => {
    if (!socket.destroyed) socket.resetAndDestroy();
  };

  const refused = new Map<string, "rotated" | "expired">();
  /** An error answer in the request's protocol, without forwarding it. */
  const answerError = (
    req: IncomingMessage,
    res: ServerResponse,
    { status, code, message }: { status: number; code: string; message: string },
  ) => {
    // Read the whole request first, as S3 does, so the client is not cut off while still sending.
    req.resume();
    req.on("end", () => {
      // Each protocol's error shape: SQS's JSON (x-amz-target), SNS's query protocol (a form body), S3's XML.
      const json = req.headers["x-amz-target"] !== undefined;
      const query = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
      const error = `<Error>${query ? "<Type>Receiver</Type>" : ""}<Code>${code}</Code><Message>${message}</Message></Error>`;
      const requestId = `<RequestId>fault-proxy-${counts.requests}</RequestId>`;
      const body = json
        ? JSON.stringify({ __type: code, message })
        : `<?xml version="1.0" encoding="UTF-8"?>\n${query ? `<ErrorResponse>${error}${requestId}</ErrorResponse>` : error.replace("</Error>", `${requestId}</Error>`)}`;
      res.writeHead(status, {
        "content-type": json ? "application/x-amz-json-1.0" : "application/xml",
        "content-length": Buffer.byteLength(body),
        "x-amzn-requestid": "fault-proxy",
        "x-amz-request-id": "fault-proxy",
      });
      res.end(body);
    });
  };

  const send = (req: IncomingMessage, onResponse: (upstream: IncomingMessage) => void, onError: () => void) => {
    const out = forward(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: forwardable(req.headers),
        agent: upstreamAgent,
      },
      onResponse,
    );
    out.on("error", onError);
    req.on("error", () => out.destroy());
    req.pipe(out);
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://proxy").pathname;
    counts.requests += 1;
    if (down) {
      record(method, path, "outage");
      if (down === "reset") reset(req.socket);
      return;
    }
    const signedWith = /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? "")?.[1];
    const refusal = signedWith === undefined ? undefined : refused.get(signedWith);
    if (refusal === "rotated") {
      answerError(req, res, {
        status: 403,
        code: "InvalidAccessKeyId",
        message: "The AWS Access Key Id you provided does not exist in our records.",
      });
      return;
    }
    if (refusal === "expired") {
      answerError(req, res, { status: 400, code: "ExpiredToken", message: "The provided token has expired." });
      return;
    }
    const n = scripted.get(`${method} ${path}`) ?? 0;
    scripted.set(`${method} ${path}`, n + 1);
    const target = req.headers["x-amz-target"];
    const chosen = options.script?.(method, path, n, typeof target === "string" ? target : undefined);
    const { fault, delayMs } = chosen
      ? { fault: chosen, delayMs: 0 }
      : options.exempt?.(method, path)
        ? { fault: undefined, delayMs: 0 }
        : plan.next(method, path);
    if (delayMs > 0) {
      record(method, path, "delay");
      await sleep(delayMs);
      if (req.socket.destroyed) return;
    }
    const failUpstream = () => reset(req.socket);

    if (fault === "resetBefore") {
      record(method, path, fault);
      reset(req.socket);
      return;
    }
    if (fault === "error500" || fault === "error503" || fault === "slowDown") {
      record(method, path, fault);
      answerError(req, res, S3_ERRORS[fault]);
      return;
    }
    if (fault === "resetAfter") {
      send(
        req,
        (upstream) => {
          upstream.resume();
          upstream.on("end", () => {
            record(method, path, fault);
            reset(req.socket);
          });
        },
        failUpstream,
      );
      return;
    }
    send(
      req,
      (upstream) => {
        const length = Number(upstream.headers["content-length"] ?? Number.NaN);
        const cut = fault === "cutBody" && method !== "HEAD" && length > 0 ? Math.floor(length / 2) : undefined;
        res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, forwardable(upstream.headers));
        if (cut === undefined) {
          upstream.pipe(res);
          upstream.on("error", failUpstream);
          return;
        }
        record(method, path, "cutBody");
        let relayed = 0;
        upstream.on("data", (chunk: Buffer) => {
          if (relayed >= cut) return;
          const part = chunk.subarray(0, cut - relayed);
          relayed += part.length;
          if (relayed < cut) {
            res.write(part);
            return;
          }
          upstream.destroy();
          // The connection ends (FIN, not RST, so the bytes sent arrive) with the body short of its length.
          res.write(part, () => req.socket.destroy());
        });
      },
      failUpstream,
    );
  };

  const server = createServer({ keepAlive: true }, (req, res) => void handle(req, res).catch(() => reset(req.socket)));
  server.on("connection", (socket: Socket) => {
    if (down === "reset") {
      counts.outage += 1;
      reset(socket);
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    plan,
    counts,
    injected,
    setRates: (rates) => {
      plan.rates = rates;
    },
    refuseKey: (accessKeyId, why = "rotated") => void refused.set(accessKeyId, why),
    setDown: (mode) => {
      down = mode;
      if (down === "reset") for (const socket of sockets) reset(socket);
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstreamAgent.destroy();
    },
  };
}
