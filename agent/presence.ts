import { hostname } from "node:os";
import { ObjectTooLarge, type ObjectStore } from "../objectstore/index.ts";
import { BucketLayout, type RemoteLocation } from "../protocol/index.ts";

/**
 * The agent's presence record, `agents/<repo>/<uuid>.json`: who syncs this repository, from where, how it
 * listens and when it was last seen. One writer per key (the agent itself), so plain PUTs; written at
 * start, on a slow timer and at a clean stop. Read by `cloudbridge status` and by a person in the console.
 */
export interface PresenceRecord {
  agent: string;
  description: string;
  host: string;
  version: string;
  listen: string;
  state: "running" | "stopped";
  startedAt: string;
  lastSeen: string;
}

export const AGENT_VERSION = "0.1.0";

export async function writePresence(
  store: ObjectStore,
  location: RemoteLocation,
  record: Omit<PresenceRecord, "host" | "version" | "lastSeen"> & { lastSeen?: string },
  /** Only if there is no record yet (If-None-Match: *): an invite claims the agent id it names this way. */
  options: { create?: boolean } = {},
): Promise<void> {
  const body: PresenceRecord = { host: hostname(), version: AGENT_VERSION, lastSeen: new Date().toISOString(), ...record };
  await store.put(new BucketLayout(location.prefix).agent(location.repo, record.agent), `${JSON.stringify(body, null, 2)}\n`, {
    contentType: "application/json",
    ...(options.create ? { ifNoneMatch: "*" as const } : {}),
  });
}

const MAX_PRESENCE_BYTES = 64 * 1024;

export async function readPresence(store: ObjectStore, location: RemoteLocation): Promise<PresenceRecord[]> {
  const layout = new BucketLayout(location.prefix);
  const records: PresenceRecord[] = [];
  for await (const info of store.list(layout.agentsRoot(location.repo))) {
    const parsed = layout.parse(info.key);
    // A record is a few hundred bytes; a larger one (anyone who can write could make it huge) is not read.
    if (parsed.kind !== "agent" || info.size > MAX_PRESENCE_BYTES) continue;
    const object = await store.get(info.key, { maxBytes: MAX_PRESENCE_BYTES }).catch((error: unknown) => {
      if (error instanceof ObjectTooLarge) return undefined;
      throw error;
    });
    if (!object || object === "not-modified") continue;
    try {
      const record = JSON.parse(object.body.toString()) as unknown;
      if (isPresenceRecord(record) && record.agent === parsed.agent) records.push(record);
    } catch {
      // A damaged record says nothing about anyone: skip it.
    }
  }
  return records;
}

const TEXT_FIELDS = ["agent", "description", "host", "version", "listen", "startedAt", "lastSeen"] as const;

/**
 * A record of the shape the agents write: every field a string (shown through forTerminal, whatever it
 * holds), the state one of two. Any other shape (a damaged record, or one written by someone else) says
 * nothing about anyone and is skipped, as is one that does not parse: status would show "undefined" and
 * "[object Object]" and hand scripts (`status --json`, the page) values of types they were never promised.
 */
function isPresenceRecord(value: unknown): value is PresenceRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return TEXT_FIELDS.every((field) => typeof record[field] === "string") && (record.state === "running" || record.state === "stopped");
}
