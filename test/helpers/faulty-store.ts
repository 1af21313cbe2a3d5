import type { Readable } from "node:stream";
import type { GetOptions, ObjectStore, PutOptions, UploadOptions } from "../../objectstore/object-store.ts";

/** Thrown by FaultyStore where a test cut the process off. */
export class InjectedFault extends Error {
  constructor(key: string) {
    super(`injected fault before writing ${key}`);
    this.name = "InjectedFault";
  }
}

/**
 * An ObjectStore that behaves as if the process died just before a chosen write: every write whose key
 * matches `failBefore` throws (and nothing is written), as does every write after it.
 */
export class FaultyStore implements ObjectStore {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  private dead = false;
  private readonly inner: ObjectStore;
  private readonly failBefore: (key: string) => boolean;
  constructor(inner: ObjectStore, failBefore: (key: string) => boolean) {
    this.inner = inner;
    this.failBefore = failBefore;
    this.bucket = inner.bucket;
    this.endpoint = inner.endpoint;
  }

  private check(key: string): void {
    if (this.dead || this.failBefore(key)) {
      this.dead = true;
      throw new InjectedFault(key);
    }
  }

  get(key: string, options?: GetOptions) {
    return this.inner.get(key, options);
  }
  getStream(key: string, options?: { range?: { start: number; end: number } }) {
    return this.inner.getStream(key, options);
  }
  head(key: string) {
    return this.inner.head(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  listPrefixes(prefix: string) {
    return this.inner.listPrefixes(prefix);
  }
  async put(key: string, body: Buffer | string, options?: PutOptions) {
    this.check(key);
    return this.inner.put(key, body, options);
  }
  async upload(key: string, body: Readable | Buffer, options?: UploadOptions) {
    this.check(key);
    return this.inner.upload(key, body, options);
  }
  async delete(key: string, options?: { ifMatch?: string }) {
    this.check(key);
    return this.inner.delete(key, options);
  }
}
