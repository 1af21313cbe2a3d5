import { assertAgentId } from "../../protocol/index.ts";
import { readUuid } from "./uuid-log.ts";
import { formatVectorClock, parseVectorClock, type VectorClock } from "./vector-clock.ts";

/**
 * `remote.log` in the git-annex branch: a special remote's configuration, one line per remote,
 * `<uuid> key=value ... timestamp=<clock>`, newest line per uuid wins (Logs/Remote.hs). git-annex reads it
 * on `git annex enableremote`, so the cloud's line carries every field `initremote type=S3` would write.
 */
export interface RemoteConfig {
  readonly uuid: string;
  readonly config: Readonly<Record<string, string>>;
  readonly clock: VectorClock;
}

export function parseRemoteLog(text: string): Map<string, RemoteConfig> {
  const remotes = new Map<string, RemoteConfig>();
  for (const line of text.split("\n")) {
    // Words as git-annex splits them (on any white space), so every field read can be written back.
    const words = line
      .trim()
      .split(/\s+/)
      .filter((w) => w.length > 0);
    const uuid = readUuid(words.shift() ?? "");
    if (!uuid) continue;
    // Entries, not assignment: a field named __proto__ written by another machine is a field like any other.
    const fields: [string, string][] = [];
    let clock = 0n;
    for (const word of words) {
      const eq = word.indexOf("=");
      if (eq <= 0) continue;
      const name = word.slice(0, eq);
      const value = word.slice(eq + 1);
      if (name === "timestamp") clock = parseVectorClock(value) ?? 0n;
      else fields.push([name, value]);
    }
    const config: Record<string, string> = Object.fromEntries(fields);
    const previous = remotes.get(uuid);
    if (!previous || clock >= previous.clock) remotes.set(uuid, { uuid, config, clock });
  }
  return remotes;
}

export function formatRemoteLog(remotes: Iterable<RemoteConfig>): string {
  let text = "";
  for (const remote of remotes) {
    assertAgentId(remote.uuid);
    const fields = Object.keys(remote.config)
      .sort()
      .map((name) => {
        const value = remote.config[name]!;
        // git-annex writes "name=" for an empty value; a field named timestamp would be read as the clock.
        if (!/^[^\s=]+$/.test(name) || name === "timestamp" || /\s/.test(value)) {
          throw new Error(`remote.log cannot hold ${name}=${JSON.stringify(value)}: names are words and values have no spaces.`);
        }
        return `${name}=${value}`;
      });
    text += `${remote.uuid} ${fields.join(" ")} timestamp=${formatVectorClock(remote.clock)}\n`;
  }
  return text;
}

export interface CloudRemoteParameters {
  bucket: string;
  /** `annex/<repo>/`, from BucketLayout.annexRoot. */
  fileprefix: string;
  /** A custom endpoint (emulator, MinIO); undefined for AWS itself. */
  endpoint: string | undefined;
  region: string;
  name?: string;
}

/**
 * The cloud as git-annex's S3 special remote: exactly the fields `git annex initremote type=S3` writes
 * (10.20230126), so `git annex enableremote cloud` works in any clone.
 */
export function cloudRemoteConfig(parameters: CloudRemoteParameters): Record<string, string> {
  const config: Record<string, string> = {
    type: "S3",
    encryption: "none",
    name: parameters.name ?? "cloud",
    bucket: parameters.bucket,
    fileprefix: parameters.fileprefix,
    // git-annex calls us-east-1 "US"; other regions go by their name.
    datacenter: parameters.region === "us-east-1" ? "US" : parameters.region,
    storageclass: "STANDARD",
    signature: "v4",
  };
  if (parameters.endpoint) {
    const url = new URL(parameters.endpoint);
    config.host = url.hostname;
    config.protocol = url.protocol.replace(":", "");
    config.port = url.port || (url.protocol === "https:" ? "443" : "80");
    config.requeststyle = "path";
  } else {
    config.host = `s3.${parameters.region}.amazonaws.com`;
    config.protocol = "https";
    config.port = "443";
  }
  return config;
}
