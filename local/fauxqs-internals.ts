/**
 * The one place that reaches inside fauxqs. Its public API (`startFauxqs`) always listens on 0.0.0.0 and
 * does not hand out its stores, and the local cloud needs both: loopback only, and the S3 store to put
 * conditional writes and bucket notifications immediately around its writes. So the stores, persistence
 * and `buildApp` are loaded from the package's own files. fauxqs is pinned to an exact version in
 * package.json; a new version must be checked against `test/integration/local/local-cloud.test.ts` before it
 * is accepted.
 */
import { buildApp } from "fauxqs";
import { installMultipartComplete, type MultipartStore } from "./multipart-complete.ts";

const root = new URL(".", import.meta.resolve("fauxqs"));
const load = async <T>(path: string): Promise<T> => (await import(new URL(path, root).href)) as T;

/** Stored object as fauxqs keeps it. */
export interface StoredObject {
  key: string;
  body: Buffer;
  contentLength: number;
  etag: string;
  lastModified: Date;
  contentType: string;
}

/** fauxqs' S3 error: thrown inside a route handler, it becomes an S3 XML error response. */
export type S3ErrorClass = new (code: string, message: string, statusCode?: number, resource?: string) => Error;

export interface MultipartUploadRecord {
  bucket: string;
  key: string;
}

/** The part of fauxqs' S3Store the adapters use. */
export interface S3StoreInternals {
  createBucket(name: string): void;
  hasBucket(name: string): boolean;
  putObject(bucket: string, key: string, body: Buffer, ...rest: unknown[]): StoredObject;
  headObject(bucket: string, key: string): StoredObject;
  deleteObject(bucket: string, key: string): void;
  completeMultipartUpload(uploadId: string, parts: unknown[]): StoredObject;
  multipartUploads: Map<string, MultipartUploadRecord>;
  persistence?: unknown;
}

interface Persistence {
  load(sqs: unknown, sns: unknown, s3: unknown): void;
  loadSqsAndSns(sqs: unknown, sns: unknown): void;
  loadS3(s3: unknown): void;
  close(): void;
}

export interface FauxqsParts {
  app: ReturnType<typeof buildApp>;
  s3: S3StoreInternals;
  S3Error: S3ErrorClass;
  close: () => Promise<void>;
}

/**
 * Builds a fauxqs app that is not yet listening. With `dataDir`, queues and topics persist in SQLite
 * under it and objects as plain files under `<dataDir>/s3/buckets/<bucket>/objects/`, readable by a person.
 */
export async function buildFauxqs(options: { region: string; dataDir?: string }): Promise<FauxqsParts> {
  const { SqsStore } = await load<{ SqsStore: new () => { persistence?: unknown; allQueues(): { persistence?: unknown }[] } }>(
    "sqs/sqsStore.js",
  );
  const { SnsStore } = await load<{ SnsStore: new () => { persistence?: unknown } }>("sns/snsStore.js");
  const { S3Store } = await load<{ S3Store: new () => S3StoreInternals }>("s3/s3Store.js");
  const { S3Error } = await load<{ S3Error: S3ErrorClass }>("common/errors.js");
  const { computeCompositeChecksum } = await load<{ computeCompositeChecksum: (algorithm: string, checksums: string[]) => string }>(
    "s3/checksum.js",
  );
  const sqs = new SqsStore();
  const sns = new SnsStore();
  const s3 = new S3Store();
  installMultipartComplete(s3 as unknown as MultipartStore, S3Error, computeCompositeChecksum);
  const closers: (() => void)[] = [];
  if (options.dataDir) {
    const { PersistenceManager } = await load<{ PersistenceManager: new (dir: string) => Persistence }>("persistence.js");
    const { FileS3Persistence } = await load<{ FileS3Persistence: new (dir: string) => Persistence }>("s3/fileS3Persistence.js");
    const queuesAndTopics = new PersistenceManager(options.dataDir);
    const objects = new FileS3Persistence(`${options.dataDir}/s3`);
    // Load before wiring persistence in, as fauxqs does, so loading does not write everything back.
    queuesAndTopics.loadSqsAndSns(sqs, sns);
    objects.loadS3(s3);
    sqs.persistence = queuesAndTopics;
    sns.persistence = queuesAndTopics;
    for (const queue of sqs.allQueues()) queue.persistence = queuesAndTopics;
    s3.persistence = objects;
    closers.push(
      () => objects.close(),
      () => queuesAndTopics.close(),
    );
  }
  const app = buildApp({
    logger: false,
    defaultRegion: options.region,
    stores: { sqsStore: sqs, snsStore: sns, s3Store: s3 } as never,
  });
  return {
    app,
    s3,
    S3Error,
    close: async () => {
      await app.close();
      for (const close of closers) close();
    },
  };
}
