import { Worker } from "node:worker_threads";
import type { FastifyRequest } from "fastify";
import type { FauxqsParts } from "./fauxqs-internals.ts";

/**
 * UploadPart's MD5 (the part's ETag, as S3 answers it) computed on a worker thread. The local cloud serves
 * every request on one thread, and fauxqs 2.4.1 hashes each part there when it arrives: a 100 MiB upload
 * spent about 230 ms of that thread on MD5 alone, the largest of its costs (more than receiving the parts
 * and joining them at completion), while the parts behind it waited. Now the part's bytes are handed to a
 * worker before the request reaches fauxqs (moved, not copied: the body is its own ArrayBuffer) and back
 * with their digest, and fauxqs' UploadPart stores the part under that digest instead of hashing it again.
 * The answer is the same; bodies too small to be worth the trip, or encoded (aws-chunked), are hashed by
 * fauxqs as before.
 */
const WORTH_A_WORKER = 1024 * 1024;

interface Part {
  partNumber: number;
  body: Buffer;
  etag: string;
  lastModified: Date;
  checksumValue?: string;
}

/** The fields of fauxqs' S3Store its UploadPart reads and writes (s3/s3Store.js). */
interface PartStore {
  multipartUploads: Map<string, { parts: Map<number, Part> }>;
  persistence?: { upsertMultipartPart(uploadId: string, part: Part): void };
  uploadPart(uploadId: string, partNumber: number, body: Buffer, checksumValue?: string): { etag: string; checksumValue?: string };
}

export function installPartDigests({ app, s3, S3Error }: FauxqsParts): void {
  const store = s3 as unknown as PartStore;
  const digests = new WeakMap<Buffer, string>();
  const worker = new PartWorker();
  app.addHook("onClose", async () => worker.stop());

  app.addHook("preHandler", (request, reply, done) => {
    // A multipart upload is starting: the worker starts now, beside CreateMultipartUpload, not with the first part.
    if (request.method === "POST" && "uploads" in ((request.query as Record<string, unknown> | undefined) ?? {})) worker.start();
    const body = request.body;
    if (!isPartUpload(request) || !Buffer.isBuffer(body) || body.length < WORTH_A_WORKER || !ownsItsMemory(body)) return done();
    worker.md5(body).then(
      ({ md5, bytes }) => {
        const moved = Buffer.from(bytes);
        digests.set(moved, md5);
        request.body = moved;
        done();
      },
      () => {
        // The bytes went to a worker that failed: nothing is stored, and the client sends the part again (a 500 is retried).
        const error = new S3Error("InternalError", "cloudbridge local could not take this part; send it again.", 500) as Error & {
          toXml(): string;
        };
        void reply.code(500).header("content-type", "application/xml").send(error.toXml());
      },
    );
  });

  // fauxqs' own UploadPart (the same checks, part and answer), with the digest the worker computed.
  const hashingItself = store.uploadPart.bind(store);
  store.uploadPart = (uploadId, partNumber, body, checksumValue) => {
    const md5 = digests.get(body);
    if (md5 === undefined) return hashingItself(uploadId, partNumber, body, checksumValue);
    const upload = store.multipartUploads.get(uploadId);
    if (!upload) {
      throw new S3Error(
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        404,
      );
    }
    const etag = `"${md5}"`;
    const part: Part = { partNumber, body, etag, lastModified: new Date(), ...(checksumValue && { checksumValue }) };
    upload.parts.set(partNumber, part);
    store.persistence?.upsertMultipartPart(uploadId, part);
    return { etag, ...(checksumValue !== undefined ? { checksumValue } : {}) };
  };
}

/** UploadPart as fauxqs routes it: a PUT with an upload id and a part number, its bytes in the body (not UploadPartCopy). */
function isPartUpload(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  return (
    request.method === "PUT" &&
    typeof query?.uploadId === "string" &&
    typeof query.partNumber === "string" &&
    request.headers["x-amz-copy-source"] === undefined &&
    !String(request.headers["content-encoding"] ?? "").includes("aws-chunked")
  );
}

/** A buffer that is the whole of its memory, so it can be moved to a worker and back without a copy. */
function ownsItsMemory(body: Buffer): boolean {
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
}

/** One worker thread hashing parts in turn, started when the first multipart upload begins. */
class PartWorker {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, { resolve: (r: { md5: string; bytes: ArrayBuffer }) => void; reject: (e: Error) => void }>();
  private next = 0;

  /** Starts the worker if it is not running. */
  start(): Worker {
    return (this.worker ??= this.started());
  }

  md5(body: Buffer): Promise<{ md5: string; bytes: ArrayBuffer }> {
    const worker = this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const bytes = body.buffer as ArrayBuffer;
      worker.postMessage({ id, body: bytes }, [bytes]);
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private started(): Worker {
    const worker = new Worker(new URL("./part-md5-worker.ts", import.meta.url));
    worker.unref();
    worker.on("message", ({ id, md5, body }: { id: number; md5: string; body: ArrayBuffer }) => {
      const waiting = this.waiting.get(id);
      this.waiting.delete(id);
      waiting?.resolve({ md5, bytes: body });
    });
    const failed = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.waiting.values()) waiting.reject(error);
      this.waiting.clear();
    };
    worker.on("error", failed);
    worker.on("exit", (code) => failed(new Error(`the part digest worker exited (${code})`)));
    return worker;
  }
}
