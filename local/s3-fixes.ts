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
 */
const MAX_SINGLE_PUT = 2 * 1024 ** 3;

export function installS3Fixes({ app, S3Error }: FauxqsParts): void {
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
