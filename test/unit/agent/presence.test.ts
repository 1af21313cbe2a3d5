import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readPresence, type PresenceRecord } from "../../../agent/presence.ts";
import type { ObjectInfo, ObjectStore } from "../../../objectstore/index.ts";

/** A bucket holding only `objects` (key → body), read through the two calls readPresence makes. */
function bucket(objects: Record<string, string>): ObjectStore {
  return {
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      for (const [key, body] of Object.entries(objects))
        if (key.startsWith(prefix)) yield { key, etag: "e", size: Buffer.byteLength(body), lastModified: new Date(0) };
    },
    get: async (key: string) => (key in objects ? { body: Buffer.from(objects[key]!), etag: "e" } : undefined),
  } as unknown as ObjectStore;
}

const A = "0eda38f8-7d4b-496d-983a-cf5a3e0ca84b";
const B = "e0512189-a2f6-40c0-90ff-d0da79430997";
const honest: PresenceRecord = {
  agent: A,
  description: "alice on laptop",
  host: "laptop",
  version: "0.1.0",
  listen: "sqs",
  state: "running",
  startedAt: "2026-11-30T07:00:00.000Z",
  lastSeen: "2026-11-30T07:24:39.549Z",
};

describe("presence records read from the bucket", () => {
  it("keeps a record only of the shape the agents write (every field a string, the state one of two): anyone who can write may put anything there", async () => {
    const records = await readPresence(
      bucket({
        [`agents/r/${A}.json`]: JSON.stringify(honest),
        // Status printed "(undefined)", "[object Object]" from this; --json passed it on to scripts.
        [`agents/r/${B}.json`]: JSON.stringify({ agent: B, description: "evil", lastSeen: "not a date", version: "x", listen: { a: 1 } }),
      }),
      { bucket: "b", prefix: "", repo: "r" },
    );
    assert.deepEqual(records, [honest]);
  });
});
