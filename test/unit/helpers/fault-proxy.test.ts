import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { FAULTS, FaultPlan, startFaultProxy, type FaultProxy, type FaultRates } from "../../helpers/fault-proxy.ts";

/**
 * The fault proxy itself, in front of a small real HTTP store (PUT keeps a body, GET returns it): each
 * fault is seen by the client as it would be from a real network or S3, and "reset after applied" really
 * applied the request while "reset before" and the error answers did not.
 */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What a client got before its request failed. */
class Received extends Error {
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly bytes: number;
  constructor(cause: Error & { code?: string }, status: number | undefined, bytes: number) {
    super(cause.message, { cause });
    this.code = cause.code;
    this.status = status;
    this.bytes = bytes;
  }
}

function call(endpoint: string, method: string, path: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, endpoint);
    // A fresh connection per call, so an outage or reset of one never leaks into the next.
    const req = request(url, { method, agent: false, headers: body ? { "content-length": body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (error) => reject(new Received(error, res.statusCode, Buffer.concat(chunks).length)));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", (error) => reject(new Received(error, undefined, 0)));
    req.end(body);
  });
}

describe("fault proxy", () => {
  const stored = new Map<string, Buffer>();
  let applied = 0;
  let upstream: Server;
  let target: string;
  const proxies: FaultProxy[] = [];
  const proxy = async (rates: FaultRates, delayMs = 0) => {
    const p = await startFaultProxy({ target, seed: 7, rates, delayMs });
    proxies.push(p);
    return p;
  };

  before(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "PUT") {
          applied += 1;
          stored.set(req.url!, Buffer.concat(chunks));
          res.writeHead(200, { etag: '"x"' }).end();
          return;
        }
        const body = stored.get(req.url!);
        if (!body) res.writeHead(404).end();
        else res.writeHead(200, { "content-length": body.length }).end(body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const p of proxies) await p.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it("passes requests and large bodies through unchanged when no fault is drawn", async () => {
    const p = await proxy({});
    const body = Buffer.alloc(5 * 1024 * 1024, 7);
    assert.equal((await call(p.endpoint, "PUT", "/b/large", body)).status, 200);
    const got = await call(p.endpoint, "GET", "/b/large");
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(body));
    assert.equal(p.injected.length, 0);
    assert.equal(p.counts.requests, 2);
  });

  for (const [fault, status, code] of [
    ["error500", 500, "InternalError"],
    ["error503", 503, "ServiceUnavailable"],
    ["slowDown", 503, "SlowDown"],
  ] as const) {
    it(`${fault}: answers ${status} ${code} in S3's XML and the request never reaches the server`, async () => {
      const p = await proxy({ [fault]: 1 });
      const before = applied;
      const answer = await call(p.endpoint, "PUT", `/b/${fault}`, Buffer.from("never stored"));
      assert.equal(answer.status, status);
      assert.match(answer.body.toString(), new RegExp(`<Error><Code>${code}</Code>`));
      assert.equal(applied, before);
      assert.equal(stored.has(`/b/${fault}`), false);
      assert.equal(p.counts[fault], 1);
    });
  }

  it("slowDown: the AWS SDK sees S3's SlowDown error (name and status), as from a throttled bucket", async () => {
    const p = await proxy({ slowDown: 1 });
    const s3 = new S3Client({
      endpoint: p.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    try {
      const error = await s3.send(new GetObjectCommand({ Bucket: "b", Key: "k" })).then(
        () => assert.fail("SlowDown expected"),
        (e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } },
      );
      assert.equal(error.name, "SlowDown");
      assert.equal(error.$metadata.httpStatusCode, 503);
    } finally {
      s3.destroy();
    }
  });

  it("the SQS and SNS SDKs see the error they would get from those services (their own error shapes)", async () => {
    const p = await proxy({ error503: 1 });
    const common = { endpoint: p.endpoint, region: "us-east-1", maxAttempts: 1, credentials: { accessKeyId: "a", secretAccessKey: "b" } };
    const sqs = new SQSClient(common);
    const sns = new SNSClient(common);
    try {
      for (const send of [() => sqs.send(new ListQueuesCommand({})), () => sns.send(new ListTopicsCommand({}))]) {
        const error = await send().then(
          () => assert.fail("ServiceUnavailable expected"),
          (e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } },
        );
        assert.equal(error.name, "ServiceUnavailable");
        assert.equal(error.$metadata.httpStatusCode, 503);
      }
    } finally {
      sqs.destroy();
      sns.destroy();
    }
  });

  it("resetBefore: the connection is reset and the server never saw the request", async () => {
    const p = await proxy({ resetBefore: 1 });
    const before = applied;
    const error = await call(p.endpoint, "PUT", "/b/reset-before", Buffer.from("lost")).then(
      () => assert.fail("reset expected"),
      (e: Received) => e,
    );
    assert.equal(error.code, "ECONNRESET");
    assert.equal(error.status, undefined, "no answer reached the client");
    assert.equal(applied, before);
    assert.equal(stored.has("/b/reset-before"), false);
  });

  it("resetAfter: the connection is reset after the server applied the request (the write is there)", async () => {
    const p = await proxy({ resetAfter: 1 });
    const before = applied;
    const error = await call(p.endpoint, "PUT", "/b/reset-after", Buffer.from("applied anyway")).then(
      () => assert.fail("reset expected"),
      (e: Received) => e,
    );
    assert.equal(error.code, "ECONNRESET");
    assert.equal(error.status, undefined, "no answer reached the client");
    assert.equal(applied, before + 1);
    assert.equal(stored.get("/b/reset-after")?.toString(), "applied anyway");
    assert.equal(p.counts.resetAfter, 1);
  });

  it("cutBody: status and length arrive, then half the body, then the connection closes", async () => {
    stored.set("/b/cut", Buffer.alloc(100_000, 1));
    const p = await proxy({ cutBody: 1 });
    const error = await call(p.endpoint, "GET", "/b/cut").then(
      () => assert.fail("a short body expected"),
      (e: Received) => e,
    );
    assert.equal(error.status, 200);
    assert.equal(error.bytes, 50_000);
    assert.equal(p.counts.cutBody, 1);
    // An answer without a body has nothing to cut: it passes.
    assert.equal((await call(p.endpoint, "PUT", "/b/cut-put", Buffer.from("x"))).status, 200);
  });

  it("delay: the request waits, then completes", async () => {
    const p = await proxy({ delay: 1 }, 300);
    stored.set("/b/slow", Buffer.from("slow"));
    const start = Date.now();
    assert.equal((await call(p.endpoint, "GET", "/b/slow")).body.toString(), "slow");
    assert.ok(Date.now() - start >= 290, `took ${Date.now() - start} ms`);
    assert.equal(p.counts.delay, 1);
  });

  it("down: every connection is reset until the outage ends", async () => {
    const p = await proxy({});
    stored.set("/b/up", Buffer.from("up"));
    p.setDown("reset");
    const error = await call(p.endpoint, "GET", "/b/up").then(
      () => assert.fail("outage expected"),
      (e: Received) => e,
    );
    assert.equal(error.code, "ECONNRESET");
    p.setDown(false);
    assert.equal((await call(p.endpoint, "GET", "/b/up")).body.toString(), "up");
  });

  it("script: a chosen fault for a chosen request, here only the first PUT of a key", async () => {
    const p = await startFaultProxy({
      target,
      seed: 7,
      script: (method, _path, n) => (method === "PUT" && n === 0 ? "error500" : undefined),
    });
    proxies.push(p);
    assert.equal((await call(p.endpoint, "PUT", "/b/scripted", Buffer.from("x"))).status, 500);
    assert.equal((await call(p.endpoint, "PUT", "/b/scripted", Buffer.from("y"))).status, 200);
    assert.equal((await call(p.endpoint, "PUT", "/b/other", Buffer.from("z"))).status, 500);
    assert.equal(stored.get("/b/scripted")?.toString(), "y");
  });

  it("blackhole: requests get no answer at all, even after the outage; new ones are answered again", async () => {
    const p = await proxy({});
    stored.set("/b/silent", Buffer.from("silent"));
    p.setDown("blackhole");
    const silent = call(p.endpoint, "GET", "/b/silent");
    const outcome = await Promise.race([
      silent.then(
        () => "answered",
        () => "failed",
      ),
      new Promise((resolve) => setTimeout(resolve, 500, "silent")),
    ]);
    assert.equal(outcome, "silent");
    p.setDown(false);
    assert.equal((await call(p.endpoint, "GET", "/b/silent")).body.toString(), "silent");
    const later = await Promise.race([
      silent.then(
        () => "answered",
        () => "failed",
      ),
      new Promise((resolve) => setTimeout(resolve, 300, "silent")),
    ]);
    assert.equal(later, "silent", "the request made during the outage stays unanswered");
    silent.catch(() => undefined);
  });

  it("draws the same faults for the same seed whatever the interleaving, and each at its rate", () => {
    const rates: FaultRates = {
      error500: 0.05,
      error503: 0.05,
      slowDown: 0.05,
      resetBefore: 0.05,
      resetAfter: 0.05,
      cutBody: 0.05,
      delay: 0.1,
    };
    const paths = Array.from({ length: 200 }, (_, i) => `/b/key-${i % 20}`);
    const run = (seed: number, order: string[]) => {
      const plan = new FaultPlan(seed, rates);
      const byPath = new Map<string, string[]>();
      for (const path of order) byPath.set(path, [...(byPath.get(path) ?? []), JSON.stringify(plan.next("PUT", path))]);
      return [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    };
    assert.deepEqual(
      run(1, paths),
      run(
        1,
        [...paths].reverse().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      ),
    );
    assert.notDeepEqual(run(1, paths), run(2, paths));

    const plan = new FaultPlan(3, rates);
    const counts = new Map<string, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const { fault, delayMs } = plan.next("GET", `/b/${i}`);
      counts.set(fault ?? "none", (counts.get(fault ?? "none") ?? 0) + 1);
      if (delayMs) counts.set("delay", (counts.get("delay") ?? 0) + 1);
    }
    for (const fault of FAULTS) assert.ok(Math.abs(counts.get(fault)! / n - 0.05) < 0.01, `${fault}: ${counts.get(fault)}`);
    assert.ok(Math.abs(counts.get("delay")! / n - 0.1) < 0.01, `delay: ${counts.get("delay")}`);
    assert.throws(() => new FaultPlan(1, { error500: 0.6, resetAfter: 0.6 }), /add up to/);
  });
});
