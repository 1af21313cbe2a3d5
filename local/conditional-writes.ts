import type { FastifyRequest } from "fastify";
import type { FauxqsParts } from "./fauxqs-internals.ts";

/**
 * S3 conditional writes, as AWS implements them, on top of fauxqs (which ignores the headers):
 *
 * - PutObject, CopyObject (destination) and CompleteMultipartUpload with `If-None-Match: *` → 412
 *   PreconditionFailed when the key exists; with `If-Match: <etag>` → 412 when the current ETag differs,
 *   404 NoSuchKey when there is no object.
 * - DeleteObject with `If-Match` → the same (S3 supports it since 2024 for compare-and-delete).
 *
 * Why this is atomic: the conditions are captured in a synchronous `preHandler` hook, and Fastify calls
 * the route handler synchronously right after it; fauxqs' handlers call the store synchronously too, and
 * the check runs inside the wrapped store method immediately before the write. Node runs all of that in
 * one turn of the event loop, so no other request can write between the check and the write. The
 * wrapper also verifies that the conditions it consumes belong to the key being written, and fails the
 * request (500) rather than apply them to another key, should a future fauxqs break that chain.
 */
interface PendingConditions {
  bucket: string;
  key: string;
  ifMatch: string | undefined;
  ifNoneMatch: string | undefined;
}

export function installConditionalWrites({ app, s3, S3Error }: FauxqsParts): void {
  let pending: PendingConditions | undefined;

  app.addHook("preHandler", (request: FastifyRequest, _reply, done) => {
    pending = undefined;
    const params = request.params as { bucket?: string; "*"?: string } | undefined;
    const key = params?.["*"];
    const ifMatch = header(request, "if-match");
    const ifNoneMatch = header(request, "if-none-match");
    const writes = request.method === "PUT" || request.method === "POST" || request.method === "DELETE";
    if (writes && params?.bucket && key && (ifMatch !== undefined || ifNoneMatch !== undefined)) {
      pending = { bucket: params.bucket, key, ifMatch, ifNoneMatch };
    }
    done();
  });

  const take = (bucket: string, key: string): PendingConditions | undefined => {
    const conditions = pending;
    pending = undefined;
    if (conditions && (conditions.bucket !== bucket || conditions.key !== key)) {
      throw new S3Error("InternalError", "cloudbridge local lost track of a conditional write; nothing was written. Retry.", 500);
    }
    return conditions;
  };

  const check = (bucket: string, key: string): void => {
    const conditions = take(bucket, key);
    if (!conditions) return;
    const current = currentEtag(bucket, key);
    if (conditions.ifNoneMatch !== undefined) {
      if (conditions.ifNoneMatch !== "*") {
        throw new S3Error("NotImplemented", "If-None-Match on a write accepts only '*'.", 501);
      }
      if (current !== undefined) throw preconditionFailed("If-None-Match");
    }
    if (conditions.ifMatch !== undefined) {
      if (current === undefined) throw new S3Error("NoSuchKey", "The specified key does not exist.", 404, key);
      if (conditions.ifMatch !== "*" && unquote(conditions.ifMatch) !== unquote(current)) throw preconditionFailed("If-Match");
    }
  };

  const currentEtag = (bucket: string, key: string): string | undefined => {
    try {
      return s3.headObject(bucket, key).etag;
    } catch (error) {
      if ((error as { code?: string }).code === "NoSuchKey") return undefined;
      throw error;
    }
  };

  const preconditionFailed = (condition: string) =>
    new S3Error("PreconditionFailed", `At least one of the pre-conditions you specified did not hold (${condition}).`, 412);

  const putObject = s3.putObject.bind(s3);
  s3.putObject = (bucket, key, ...rest) => {
    check(bucket, key);
    return putObject(bucket, key, ...rest);
  };
  const complete = s3.completeMultipartUpload.bind(s3);
  s3.completeMultipartUpload = (uploadId, parts) => {
    const upload = s3.multipartUploads.get(uploadId);
    if (upload) check(upload.bucket, upload.key);
    return complete(uploadId, parts);
  };
  const deleteObject = s3.deleteObject.bind(s3);
  s3.deleteObject = (bucket, key) => {
    check(bucket, key);
    deleteObject(bucket, key);
  };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, "").replaceAll('"', "");
}
