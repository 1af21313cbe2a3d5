import { createHash } from "node:crypto";
import { pipeline, Readable } from "node:stream";
import type { BucketLayout } from "../../protocol/index.ts";
import {
  ObjectTooLarge,
  type GetOptions,
  type MultipartStore,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStream,
  type PartStream,
  type PutOptions,
  type StoredObject,
  type UploadBody,
  type UploadOptions,
} from "../object-store.ts";
import {
  CHUNK_SIZE,
  DecryptStream,
  EncryptStream,
  HEADER_SIZE,
  chunkCount,
  ciphertextSize,
  decodeHeader,
  decryptBuffer,
  encodeHeader,
  encryptBuffer,
  newHeader,
  objectKey,
  plaintextSize,
  sealedChunks,
  sealedLength,
  sealedRange,
  type ObjectHeader,
} from "./chunked-cipher.ts";
import { MissingRepositoryKey, UndecryptableObject } from "./errors.ts";
import type { RepositoryKeys } from "./keyring.ts";

/** How often a writer re-reads the key ring, so a rotation elsewhere reaches its new objects within this time. */
const KEY_REFRESH_MS = 30_000;
const OCTET_STREAM = "application/octet-stream";
/** Annexed objects are named `CBSIV--<sealed key>`: the shape of a git-annex key, so the bucket's layout still parses. */
const ANNEX_NAME_PREFIX = "CBSIV--";
const CLEAR_NAMES = new Set([
  "HEAD",
  "info/refs",
  "objects/info/packs",
  "objects/info/cloudbridge-retired-packs",
  "objects/info/cloudbridge-compaction-lease",
]);

/**
 * One repository's view of the bucket with its objects encrypted (docs/encryption.md): the same
 * `ObjectStore` and `MultipartStore`, so git over S3, annexed content and presence records work unchanged
 * on top of it. Callers use logical keys (protocol/layout.ts); the bucket holds sealed names (ref names
 * below `refs/heads/` and `refs/synced/<agent>/`, pack ids, annex keys) and sealed bodies (everything under
 * the repository's `repos/`, `annex/` and `agents/` prefixes but `annex-uuid`). Conditions (If-Match,
 * If-None-Match) and ETags are the bucket's own, so compare-and-swap works as in clear mode. Anything that
 * does not decrypt throws UndecryptableObject before a byte of it is returned.
 */
export class EncryptedStore implements ObjectStore, MultipartStore {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  private readonly repoRoot: string;
  private readonly annexRoot: string;
  private readonly agentsRoot: string;
  private keysCheckedAt = Date.now();
  /** Headers and sizes of objects whose ranges are being read (download.ts HEADs first, then reads ranges). */
  private readonly ranged = new Map<string, { etag: string; size: number; header?: ObjectHeader }>();

  private readonly inner: ObjectStore & MultipartStore;
  private keys: RepositoryKeys;
  private readonly reloadKeys: (() => Promise<RepositoryKeys>) | undefined;

  constructor(
    inner: ObjectStore & MultipartStore,
    layout: BucketLayout,
    repo: string,
    keys: RepositoryKeys,
    reloadKeys?: () => Promise<RepositoryKeys>,
  ) {
    this.inner = inner;
    this.keys = keys;
    this.reloadKeys = reloadKeys;
    this.bucket = inner.bucket;
    this.endpoint = inner.endpoint;
    this.repoRoot = layout.repoRoot(repo);
    this.annexRoot = layout.annexRoot(repo);
    this.agentsRoot = layout.agentsRoot(repo);
  }

  // ── names ────────────────────────────────────────────────────────────────────────────────────────

  /** Whether the body of `key` (logical) is sealed. */
  private sealedBody(key: string): boolean {
    if (key.startsWith(this.annexRoot)) return key !== `${this.annexRoot}annex-uuid`;
    return key.startsWith(this.repoRoot) || key.startsWith(this.agentsRoot);
  }

  /** The bucket's name for logical `key`; a folder (ending in "/") maps to the folder its keys are in. */
  physical(key: string): string {
    if (key.startsWith(this.repoRoot)) return this.repoRoot + this.physicalInRepo(key.slice(this.repoRoot.length));
    if (key.startsWith(this.annexRoot)) {
      const name = key.slice(this.annexRoot.length);
      if (name === "" || name === "annex-uuid") return key;
      return `${this.annexRoot}${ANNEX_NAME_PREFIX}${this.keys.names.seal("annex", name, 32)}`;
    }
    return key;
  }

  private physicalInRepo(rel: string): string {
    if (CLEAR_NAMES.has(rel) || rel === "" || !rel.includes("/") || rel === "objects/" || rel === "objects/pack/") return rel;
    if (rel.startsWith("objects/pack/")) {
      const match = /^pack-([0-9a-f]{40})\.(pack|idx)$/.exec(rel.slice("objects/pack/".length));
      if (!match) throw new UndecryptableObject(rel, "an encrypted repository holds SHA-1 packs only");
      return `objects/pack/pack-${this.keys.names.sealPackId(match[1]!)}.${match[2]}`;
    }
    if (rel.startsWith("refs/")) {
      const segments = rel.split("/");
      return segmentsOfRef(segments, true, (context, name) => this.keys.names.seal(context, name)).join("/");
    }
    return rel;
  }

  /** The logical key of a key listed from the bucket, or undefined for one this repository's key did not seal. */
  logical(key: string): string | undefined {
    if (key.startsWith(this.repoRoot)) {
      const rel = key.slice(this.repoRoot.length);
      // The layout's own names, and its folders but those under refs/ (which hold sealed names).
      if (CLEAR_NAMES.has(rel) || (rel.endsWith("/") && !rel.startsWith("refs/"))) return key;
      if (rel.startsWith("objects/pack/")) {
        const match = /^pack-([0-9a-f]{64})\.(pack|idx)$/.exec(rel.slice("objects/pack/".length));
        const id = match && this.keys.names.openPackId(match[1]!);
        return id ? `${this.repoRoot}objects/pack/pack-${id}.${match[2]}` : undefined;
      }
      if (rel.startsWith("refs/")) {
        let failed = false;
        const segments = segmentsOfRef(rel.split("/"), false, (context, sealed) => {
          const name = this.keys.names.open(context, sealed);
          if (name === undefined) failed = true;
          return name ?? "";
        });
        return failed ? undefined : this.repoRoot + segments.join("/");
      }
      return undefined;
    }
    if (key.startsWith(this.annexRoot)) {
      const name = key.slice(this.annexRoot.length);
      if (name === "annex-uuid") return key;
      if (!name.startsWith(ANNEX_NAME_PREFIX)) return undefined;
      const opened = this.keys.names.open("annex", name.slice(ANNEX_NAME_PREFIX.length));
      return opened === undefined ? undefined : this.annexRoot + opened;
    }
    return key;
  }

  // ── keys ─────────────────────────────────────────────────────────────────────────────────────────

  private async writingKeys(): Promise<RepositoryKeys> {
    if (this.reloadKeys && Date.now() - this.keysCheckedAt > KEY_REFRESH_MS) {
      this.keys = await this.reloadKeys();
      this.keysCheckedAt = Date.now();
    }
    return this.keys;
  }

  private dataKey(generation: number, key: string): Buffer {
    const dataKey = this.keys.generations.get(generation);
    if (!dataKey) {
      throw new MissingRepositoryKey(
        key,
        `${key} is sealed with key generation ${generation}, which this machine was not given (it was removed from the repository, or its key ring is stale).`,
      );
    }
    return dataKey;
  }

  /** Re-reads the key ring once when an object names a generation this machine has not seen yet. */
  private async ensureGeneration(generation: number): Promise<void> {
    if (this.keys.generations.has(generation) || !this.reloadKeys) return;
    this.keys = await this.reloadKeys();
    this.keysCheckedAt = Date.now();
  }

  // ── ObjectStore ──────────────────────────────────────────────────────────────────────────────────

  async get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined | "not-modified"> {
    if (!this.sealedBody(key)) return this.inner.get(this.physical(key), options);
    const physical = this.physical(key);
    const bound = options.maxBytes === undefined ? {} : { maxBytes: ciphertextSize(options.maxBytes) };
    const object = await this.inner
      .get(physical, { ...(options.ifNoneMatch ? { ifNoneMatch: options.ifNoneMatch } : {}), ...bound })
      .catch((error: unknown) => {
        throw error instanceof ObjectTooLarge ? new ObjectTooLarge(key, options.maxBytes!, options.maxBytes!) : error;
      });
    if (!object || object === "not-modified") return object;
    await this.ensureGeneration(decodeHeader(object.body, key).generation);
    const body = decryptBuffer((header) => this.dataKey(header.generation, key), key, object.body);
    if (options.maxBytes !== undefined && body.length > options.maxBytes) throw new ObjectTooLarge(key, body.length, options.maxBytes);
    return { key, etag: object.etag, size: body.length, lastModified: object.lastModified, body };
  }

  async getStream(key: string, options: { range?: { start: number; end: number } } = {}): Promise<ObjectStream | undefined> {
    const physical = this.physical(key);
    if (!this.sealedBody(key)) return this.inner.getStream(physical, options);
    if (!options.range) {
      const object = await this.inner.getStream(physical);
      if (!object) return undefined;
      const size = plaintextSize(object.size, key);
      const { header, rest } = await readHeader(object.stream, key);
      await this.ensureGeneration(header.generation);
      const decrypt = new DecryptStream(objectKey(this.dataKey(header.generation, key), header, key), key, size, {
        first: 0,
        last: chunkCount(size) - 1,
        skip: 0,
        length: size,
      });
      pipeline(rest, decrypt, () => undefined);
      return { key, etag: object.etag, size, lastModified: object.lastModified, stream: decrypt };
    }
    let known = this.ranged.get(physical);
    if (!known) {
      const info = await this.head(key);
      if (!info) return undefined;
      known = this.ranged.get(physical)!;
    }
    if (!known.header) {
      const first = await this.inner.getStream(physical, { range: { start: 0, end: HEADER_SIZE - 1 } });
      if (!first) return undefined;
      const { header } = await readHeader(first.stream, key);
      if (first.etag !== known.etag) throw new UndecryptableObject(key, "it changed while it was being read");
      await this.ensureGeneration(header.generation);
      known.header = header;
    }
    const { header, etag, size } = known;
    const span = sealedRange(options.range.start, options.range.end, size);
    const object = await this.inner.getStream(physical, { range: { start: span.from, end: span.to } });
    if (!object) return undefined;
    if (object.etag && object.etag !== etag) {
      this.ranged.delete(physical);
      object.stream.destroy();
      throw new Error(`${key} changed during the download (ETag ${object.etag}, was ${etag}).`);
    }
    const decrypt = new DecryptStream(objectKey(this.dataKey(header.generation, key), header, key), key, size, span);
    pipeline(object.stream, decrypt, () => undefined);
    return { key, etag, size: span.length, lastModified: object.lastModified, stream: decrypt };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const physical = this.physical(key);
    const info = await this.inner.head(physical);
    if (!info || !this.sealedBody(key)) return info && { ...info, key };
    const size = plaintextSize(info.size, key);
    const known = this.ranged.get(physical);
    if (known?.etag !== info.etag) {
      if (this.ranged.size > 64) this.ranged.clear();
      this.ranged.set(physical, { etag: info.etag, size });
    }
    return { key, etag: info.etag, size, lastModified: info.lastModified };
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    if (!this.sealedBody(key)) return this.inner.put(this.physical(key), body, options);
    const keys = await this.writingKeys();
    const sealed = encryptBuffer(keys.generations.get(keys.current)!, newHeader(keys.current), key, Buffer.from(body));
    return this.inner.put(this.physical(key), sealed, conditionsOf(options));
  }

  async upload(key: string, body: UploadBody, options: UploadOptions = {}): Promise<{ etag: string }> {
    if (!this.sealedBody(key)) return this.inner.upload(this.physical(key), body, options);
    const keys = await this.writingKeys();
    const dataKey = keys.generations.get(keys.current)!;
    const seal = (source: Readable): Readable => {
      const encrypt = new EncryptStream(dataKey, newHeader(keys.current), key);
      pipeline(source, encrypt, () => undefined);
      return encrypt;
    };
    const sealedBody: UploadBody = Buffer.isBuffer(body)
      ? encryptBuffer(dataKey, newHeader(keys.current), key, body)
      : typeof body === "function"
        ? () => seal(body())
        : seal(body);
    const { partSize, queueSize, onProgress, signal } = options;
    return this.inner.upload(this.physical(key), sealedBody, {
      ...conditionsOf(options),
      ...(partSize !== undefined ? { partSize } : {}),
      ...(queueSize !== undefined ? { queueSize } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const listed: ObjectInfo[] = [];
    for await (const info of this.inner.list(this.physical(prefix))) {
      const key = this.logical(info.key);
      if (key === undefined || !key.startsWith(prefix)) continue;
      let size = info.size;
      if (this.sealedBody(key)) {
        try {
          size = plaintextSize(info.size, key);
        } catch {
          continue;
        }
      }
      listed.push({ key, etag: info.etag, size, lastModified: info.lastModified });
    }
    // The bucket's order is the sealed names' order; callers are promised key order.
    listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* listed;
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const prefixes = await this.inner.listPrefixes(this.physical(prefix));
    return prefixes
      .map((folder) => this.logical(folder))
      .filter((folder): folder is string => folder !== undefined)
      .sort();
  }

  delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    return this.inner.delete(this.physical(key), options);
  }

  // ── MultipartStore: parts are whole chunks, sealed where they belong, so a part can be sent again alone ──

  async createMultipartUpload(
    key: string,
    options: Pick<PutOptions, "contentType" | "metadata"> & { size?: number; partSize?: number } = {},
  ): Promise<string> {
    if (!this.sealedBody(key)) return this.inner.createMultipartUpload(this.physical(key), options);
    const { size, partSize } = options;
    if (size === undefined || partSize === undefined || partSize % CHUNK_SIZE !== 0) {
      throw new Error(
        `A multipart upload to an encrypted repository needs the object's size and a part size that is a multiple of ${CHUNK_SIZE} bytes.`,
      );
    }
    const keys = await this.writingKeys();
    const header = newHeader(keys.current);
    const uploadId = await this.inner.createMultipartUpload(this.physical(key), { contentType: OCTET_STREAM });
    // The upload id carries what every part needs (a resumed upload in another process included).
    return `cbe1:${header.generation}:${size}:${partSize}:${header.salt.toString("hex")}:${uploadId}`;
  }

  /**
   * The sealed chunks of part `partNumber` (the header first, on part 1), made as they are read, and their
   * length: a part in flight is held once, as its plaintext, whatever the number of parts in flight.
   */
  private sealPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Buffer,
  ): { realId: string; chunks: Iterable<Buffer>; length: number } {
    const upload = parseUploadId(uploadId);
    if (!upload) return { realId: uploadId, chunks: [body], length: body.length };
    const offset = (partNumber - 1) * upload.partSize;
    if (body.length !== Math.min(upload.partSize, upload.size - offset)) {
      throw new Error(
        `Part ${partNumber} of ${key} is ${body.length} bytes; the upload was created for parts of ${upload.partSize} bytes of ${upload.size}.`,
      );
    }
    const header = { generation: upload.generation, salt: upload.salt };
    const objKey = objectKey(this.dataKey(upload.generation, key), header, key);
    const prefix = partNumber === 1 ? encodeHeader(header) : undefined;
    return {
      realId: upload.realId,
      chunks: sealedChunks(objKey, offset / CHUNK_SIZE, chunkCount(upload.size), body, prefix),
      length: (prefix?.length ?? 0) + sealedLength(body.length),
    };
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | PartStream, signal?: AbortSignal): Promise<string> {
    if (!parseUploadId(uploadId)) return this.inner.uploadPart(this.physical(key), uploadId, partNumber, body, signal);
    if (!Buffer.isBuffer(body))
      throw new Error(`Parts of an encrypted upload (${key}) are sealed from their plaintext bytes, not from a stream.`);
    const { realId, chunks, length } = this.sealPart(key, uploadId, partNumber, body);
    const stream = Readable.from(chunks, { objectMode: false });
    try {
      return await this.inner.uploadPart(this.physical(key), realId, partNumber, { stream, length }, signal);
    } finally {
      stream.destroy();
    }
  }

  /** The ETag a part of these bytes gets (sealing is deterministic for one upload), so a resumed upload can keep the parts it sent. */
  expectedPartEtag(key: string, uploadId: string, partNumber: number, body: Buffer): string {
    const md5 = createHash("md5");
    for (const chunk of this.sealPart(key, uploadId, partNumber, body).chunks) md5.update(chunk);
    return md5.digest("hex");
  }

  completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; etag: string }>,
    options?: { ifNoneMatch?: "*" },
  ): Promise<{ etag: string }> {
    return this.inner.completeMultipartUpload(this.physical(key), parseUploadId(uploadId)?.realId ?? uploadId, parts, options);
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.inner.abortMultipartUpload(this.physical(key), parseUploadId(uploadId)?.realId ?? uploadId);
  }
}

/**
 * The segments of a ref path with every name sealed (or opened, `sealing` false) but the layout's own
 * words: `refs/`, `heads/`, and `synced/<agent>/` (the agent id is public anyway, in `agents/`).
 * `transform(context, segment)` seals or opens one segment; `context` is the logical path above it.
 */
function segmentsOfRef(segments: string[], sealing: boolean, transform: (context: string, segment: string) => string): string[] {
  const out: string[] = [];
  let context = "";
  segments.forEach((segment, i) => {
    const clear =
      segment === "" ||
      i === 0 ||
      (i === 1 && segment === "synced") ||
      (i === 2 && segments[1] === "synced") ||
      (segment === "heads" && (i === 1 || (i === 3 && segments[1] === "synced")));
    const result = clear ? segment : transform(context, segment);
    out.push(result);
    context += `${i === 0 ? "" : "/"}${sealing ? segment : result}`;
  });
  return out;
}

function conditionsOf(options: PutOptions): PutOptions {
  return {
    ...(options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
    ...(options.ifNoneMatch !== undefined ? { ifNoneMatch: options.ifNoneMatch } : {}),
    contentType: OCTET_STREAM,
  };
}

function parseUploadId(uploadId: string): { generation: number; size: number; partSize: number; salt: Buffer; realId: string } | undefined {
  const match = /^cbe1:(\d+):(\d+):(\d+):([0-9a-f]{48}):(.+)$/s.exec(uploadId);
  if (!match) return undefined;
  return {
    generation: Number(match[1]),
    size: Number(match[2]),
    partSize: Number(match[3]),
    salt: Buffer.from(match[4]!, "hex"),
    realId: match[5]!,
  };
}

/** The header from the start of a stream, and a stream of the rest. */
async function readHeader(stream: Readable, key: string): Promise<{ header: ObjectHeader; rest: Readable }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let length = 0;
  while (length < HEADER_SIZE) {
    const next = await iterator.next();
    if (next.done) throw new UndecryptableObject(key, "it ended inside its header");
    parts.push(next.value);
    length += next.value.length;
  }
  const first = Buffer.concat(parts, length);
  const header = decodeHeader(first, key);
  const leftover = first.subarray(HEADER_SIZE);
  const rest = Readable.from(
    (async function* () {
      if (leftover.length > 0) yield leftover;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    })(),
    { objectMode: false },
  );
  return { header, rest };
}
