/**
 * An ObjectStore that counts requests and bytes as S3 would bill them (a LIST costs one request per page of
 * 1,000 keys), for the git benchmarks.
 */
import type { Readable } from "node:stream";
import type { GetOptions, ObjectStore, PutOptions, UploadOptions } from "../objectstore/object-store.ts";

export class CountingStore implements ObjectStore {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  requests = 0;
  bytesUp = 0;
  bytesDown = 0;
  private readonly inner: ObjectStore;
  constructor(inner: ObjectStore) {
    this.inner = inner;
    this.bucket = inner.bucket;
    this.endpoint = inner.endpoint;
  }
  reset() {
    this.requests = this.bytesUp = this.bytesDown = 0;
  }
  async get(key: string, options?: GetOptions) {
    this.requests++;
    const result = await this.inner.get(key, options);
    if (result && result !== "not-modified") this.bytesDown += result.size;
    return result;
  }
  async getStream(key: string, options?: { range?: { start: number; end: number } }) {
    this.requests++;
    const result = await this.inner.getStream(key, options);
    if (result) this.bytesDown += result.size;
    return result;
  }
  head(key: string) {
    this.requests++;
    return this.inner.head(key);
  }
  async *list(prefix: string) {
    this.requests++;
    let n = 0;
    for await (const info of this.inner.list(prefix)) {
      if (++n % 1000 === 0) this.requests++;
      yield info;
    }
  }
  listPrefixes(prefix: string) {
    this.requests++;
    return this.inner.listPrefixes(prefix);
  }
  put(key: string, body: Buffer | string, options?: PutOptions) {
    this.requests++;
    this.bytesUp += Buffer.byteLength(body);
    return this.inner.put(key, body, options);
  }
  upload(key: string, body: Readable | Buffer, options?: UploadOptions) {
    this.requests++;
    return this.inner.upload(key, body, { ...options, onProgress: (n) => (this.bytesUp = n) });
  }
  delete(key: string, options?: { ifMatch?: string }) {
    this.requests++;
    return this.inner.delete(key, options);
  }
}
