import type { FauxqsParts } from "./fauxqs-internals.ts";

/**
 * Where fauxqs 2.4.1 differs from S3 in ways cloudbridge meets, mended at the edge:
 *
 * - Request bodies were capped at 11 MiB, so a single PutObject of a 20 MiB pack failed with 413. S3 takes
 *   up to 5 GiB in one PUT; the emulator, which holds a body in memory, takes up to 2 GiB.
 * - A zero-byte PutObject answered 500 (no body was parsed): an empty object is a valid object.
 * - Object keys with an empty, "." or ".." path segment are refused with 400: the emulator stores objects
 *   as files under `--data`, and such a key would collide with another or land outside the store.
 *   (S3 itself accepts them; the cloudbridge layout never produces them.)
 * - S3's answers say whose they are (`Server: AmazonS3`, beside the request ids fauxqs sends), as AWS's do
 *   (S3 API reference, "Common response headers"): the agent tells S3 from another service at the
 *   endpoint by them (objectstore/access-errors.ts).
 * - A request signed for another AWS region than the cloud's was served as if it were right. S3 refuses it,
 *   naming the bucket's region in `x-amz-bucket-region`: 400 AuthorizationHeaderMalformed ("the region …
 *   is wrong; expecting …", with a Region element), and for a HEAD, which has no body, only the status and
 *   the header. A HEAD of a bucket names its region too (HeadBucket's BucketRegion).
 */
const MAX_SINGLE_PUT = 2 * 1024 ** 3;

/** fauxqs' S3 routes (its SQS, SNS and the Secrets Manager adapter answer POST /). */
const S3_ROUTES = new Set(["/:bucket", "/:bucket/*"]);

export function installS3Fixes({ app, S3Error, s3 }: FauxqsParts, options: { region: string }): void {
  const isS3 = (request: { method: string; routeOptions: { url?: string | undefined } }) =>
    S3_ROUTES.has(request.routeOptions.url ?? "") || (request.method === "GET" && request.routeOptions.url === "/");
  app.addHook("onRequest", (request, reply, done) => {
    if (!isS3(request)) return done();
    const bucket = (request.params as { bucket?: string } | undefined)?.bucket;
    const signedFor = signingRegion(
      request.headers.authorization,
      (request.query as Record<string, unknown> | undefined)?.["X-Amz-Credential"],
    );
    if (bucket === undefined || !isAwsRegion(signedFor) || signedFor === options.region || !s3.hasBucket(bucket)) return done();
    void reply.code(400).header("x-amz-bucket-region", options.region);
    if (request.method === "HEAD") {
      void reply.send();
      return;
    }
    const error = new S3Error(
      "AuthorizationHeaderMalformed",
      `The authorization header is malformed; the region '${signedFor}' is wrong; expecting '${options.region}'`,
      400,
    ) as Error & { toXml(): string };
    const xml = error.toXml().replace("</Message>", `</Message>\n  <Region>${options.region}</Region>`);
    void reply.header("content-type", "application/xml").send(xml);
  });
  app.addHook("onSend", (request, reply, payload, done) => {
    if (isS3(request)) {
      void reply.header("server", "AmazonS3");
      if (request.method === "HEAD" && request.routeOptions.url === "/:bucket" && reply.statusCode === 200)
        void reply.header("x-amz-bucket-region", options.region);
    }
    done(null, payload);
  });
  // Every body but SQS' JSON and SNS' form posts is an S3 object body: raw bytes, up to MAX_SINGLE_PUT.
  app.addContentTypeParser(
    /^(?!application\/(?:x-amz-json-1\.0|x-www-form-urlencoded)\b)/,
    { parseAs: "buffer", bodyLimit: MAX_SINGLE_PUT },
    (_request, body, done) => done(null, body),
  );
  app.addHook("preHandler", (request, reply, done) => {
    const key = (request.params as { "*"?: string } | undefined)?.["*"];
    if (key && key.split("/").some((segment, i, all) => segment === "." || segment === ".." || (segment === "" && i < all.length - 1))) {
      const error = new S3Error(
        "InvalidArgument",
        `cloudbridge local refuses the key ${JSON.stringify(key)}: it has an empty, "." or ".." segment.`,
        400,
      ) as Error & { toXml(): string };
      void reply.code(400).header("content-type", "application/xml").send(error.toXml());
      return;
    }
    if (request.method === "PUT" && request.body === undefined) request.body = Buffer.alloc(0);
    done();
  });
}

/**
 * A scope naming an AWS region (us-east-1, eu-west-3, us-gov-west-1, cn-north-1). git-annex's S3 remote with
 * a custom host signs for the host's name instead (127.0.0.1 here): no region to hold it to.
 */
function isAwsRegion(region: string | undefined): region is string {
  return region !== undefined && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(region);
}

/** The region a SigV4 request is signed for: its credential scope's (`AK/date/region/s3/aws4_request`), in the Authorization header or a presigned URL's query. */
function signingRegion(authorization: string | undefined, presigned: unknown): string | undefined {
  const scope = /Credential=([^,\s]+)/.exec(authorization ?? "")?.[1] ?? (typeof presigned === "string" ? presigned : undefined);
  const parts = scope?.split("/");
  return parts && parts.length === 5 && parts[3] === "s3" ? parts[2] : undefined;
}
