import { createServer, request, type Server } from "node:http";

/** Counts requests passing through to `target`, by service: S3, SQS (x-amz-target / Action), SNS. */
export interface CountingProxy {
  endpoint: string;
  counts: Record<"s3" | "sqs" | "sns" | "other", number>;
  /** The S3 requests since the last reset, as "METHOD /path?query" (for a failure message). */
  s3Requests: string[];
  /** The status of each S3 answer since the last reset, in the order they came (recorded before the client reads them). */
  s3Statuses: number[];
  reset(): void;
  stop(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const counts = { s3: 0, sqs: 0, sns: 0, other: 0 };
  const s3Requests: string[] = [];
  const s3Statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const amzTarget = String(req.headers["x-amz-target"] ?? "");
    const auth = String(req.headers.authorization ?? "");
    let s3 = false;
    if (amzTarget.startsWith("AmazonSQS") || auth.includes("/sqs/")) counts.sqs += 1;
    else if (auth.includes("/sns/")) counts.sns += 1;
    else if (auth.includes("/s3/")) {
      s3 = true;
      counts.s3 += 1;
      s3Requests.push(`${req.method} ${req.url}`);
    } else counts.other += 1;
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (s3) s3Statuses.push(up.statusCode ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    s3Requests,
    s3Statuses,
    reset: () => {
      Object.assign(counts, { s3: 0, sqs: 0, sns: 0, other: 0 });
      s3Requests.length = 0;
      s3Statuses.length = 0;
    },
    stop: () => new Promise((ok) => (server.closeAllConnections(), server.close(() => ok()))),
  };
}
