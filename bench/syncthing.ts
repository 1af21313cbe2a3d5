/**
 * Syncthing (Debian's package, 1.19) as the peer of the agent benchmarks, on loopback only: nothing
 * announced or relayed, no usage report, the GUI/REST API on 127.0.0.1 with a random key, the watcher on
 * with `fsWatcherDelayS` as given (1 s: how the peer figures of the performance goals were taken).
 *
 * - `startSyncthingPair`: two instances sharing one folder, each with a generated device ID (latency A→B);
 * - `syncthingFolder`: one instance serving one folder, started and stopped as often as needed (its start
 *   time and memory on a large folder).
 *
 * Missing Syncthing: `apt-get install syncthing` (or BENCH_SYNCTHING=/path/to/syncthing).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { stopChild } from "./agent-common.ts";

const run = promisify(execFile);
export const SYNCTHING = process.env.BENCH_SYNCTHING ?? "/usr/bin/syncthing";

export function syncthingMissing(): string | undefined {
  return existsSync(SYNCTHING)
    ? undefined
    : `${SYNCTHING} not found: install Syncthing (\`apt-get install syncthing\`) or set BENCH_SYNCTHING`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

/** One Syncthing home: its device ID, its ports and API key, the folder it serves. */
interface Instance {
  home: string;
  folder: string;
  id: string;
  port: number;
  gui: number;
  apiKey: string;
}

/** Generates a home in `home` serving `folder` (created if missing). */
async function makeInstance(home: string, folder: string): Promise<Instance> {
  const missing = syncthingMissing();
  if (missing) throw new Error(missing);
  await mkdir(folder, { recursive: true });
  await run(SYNCTHING, ["generate", `--home=${home}`, "--no-default-folder"]);
  const { stdout } = await run(SYNCTHING, ["serve", `--home=${home}`, "--device-id"]);
  return { home, folder, id: stdout.trim(), port: await freePort(), gui: await freePort(), apiKey: randomBytes(16).toString("hex") };
}

/** Writes `self`'s config.xml: folder "bench" shared with `peers` (self included), on loopback only. */
async function writeConfig(
  self: Instance,
  peers: ReadonlyArray<{ instance: Instance; name: string; address: string }>,
  watcherDelayS: number,
) {
  const devices = peers.map(
    ({ instance, name, address }) =>
      `<device id="${instance.id}" name="${name}" compression="metadata" introducer="false"><address>${address}</address></device>`,
  );
  await writeFile(
    join(self.home, "config.xml"),
    `<configuration version="36">
  <folder id="bench" label="bench" path="${self.folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="${watcherDelayS}" ignorePerms="false" autoNormalize="true">
    <filesystemType>basic</filesystemType>
    ${peers.map(({ instance }) => `<device id="${instance.id}"></device>`).join("\n    ")}
    <minDiskFree unit="%">0</minDiskFree>
  </folder>
  ${devices.join("\n  ")}
  <gui enabled="true" tls="false"><address>127.0.0.1:${self.gui}</address><apikey>${self.apiKey}</apikey></gui>
  <options>
    <listenAddress>tcp://127.0.0.1:${self.port}</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <urAccepted>-1</urAccepted>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <crashReportingEnabled>false</crashReportingEnabled>
    <startBrowser>false</startBrowser>
    <minHomeDiskFree unit="%">0</minHomeDiskFree>
  </options>
</configuration>
`,
  );
}

function serve(self: Instance): ChildProcess {
  return spawn(SYNCTHING, ["serve", `--home=${self.home}`, "--no-browser", "--no-restart", "--no-upgrade"], {
    stdio: "ignore",
    env: { ...process.env, STNORESTART: "1", STNOUPGRADE: "1" },
  });
}

/** A call of the instance's REST API (JSON), or undefined while it does not answer. */
async function api(self: Instance, path: string): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${self.gui}${path}`, { headers: { "X-API-Key": self.apiKey } }).catch(() => undefined);
  return response?.ok ? response.json() : undefined;
}

const folderIdle = async (self: Instance) =>
  ((await api(self, "/rest/db/status?folder=bench")) as { state?: string } | undefined)?.state === "idle";

/** Polls `done` every `everyMs` until it holds, failing after `limitMs` (or at once if `exited` says so). */
async function until(done: () => Promise<boolean>, what: string, limitMs: number, everyMs: number, exited?: () => string | undefined) {
  const deadline = Date.now() + limitMs;
  while (!(await done())) {
    const gone = exited?.();
    if (gone) throw new Error(gone);
    if (Date.now() > deadline) throw new Error(`${what} within ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface SyncthingPair {
  /** The two synced folders. */
  a: string;
  b: string;
  stop(): Promise<void>;
}

/** Starts two instances sharing `dirA` and `dirB` (created if missing); resolves once they are connected and both folders idle. */
export async function startSyncthingPair(root: string, dirA: string, dirB: string, watcherDelayS = 1): Promise<SyncthingPair> {
  const a = await makeInstance(join(root, "syncthing-a"), dirA);
  const b = await makeInstance(join(root, "syncthing-b"), dirB);
  const peers = [
    { instance: a, name: "a", address: `tcp://127.0.0.1:${a.port}` },
    { instance: b, name: "b", address: `tcp://127.0.0.1:${b.port}` },
  ];
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) await stopChild(child);
  };
  try {
    for (const self of [a, b]) {
      await writeConfig(self, peers, watcherDelayS);
      children.push(serve(self));
    }
    const connected = async (self: Instance, other: Instance) =>
      ((await api(self, "/rest/system/connections")) as { connections: Record<string, { connected: boolean }> } | undefined)?.connections[
        other.id
      ]?.connected === true;
    await until(async () => (await connected(a, b)) && (await connected(b, a)), "the two Syncthing instances did not connect", 60_000, 200);
    await until(async () => (await folderIdle(a)) && (await folderIdle(b)), "Syncthing's folders did not become idle", 660_000, 200);
  } catch (error) {
    await stop();
    throw error;
  }
  return { a: dirA, b: dirB, stop };
}

export interface SyncthingFolder {
  /** Starts Syncthing and resolves once its folder is scanned and idle (the REST API says "idle"). */
  start(): Promise<ChildProcess>;
  stop(): Promise<void>;
}

/** One instance in `home` (generated once) serving `folder` alone; start and stop it as often as needed. */
export async function syncthingFolder(home: string, folder: string, watcherDelayS = 1): Promise<SyncthingFolder> {
  const self = await makeInstance(home, folder);
  await writeConfig(self, [{ instance: self, name: "self", address: "dynamic" }], watcherDelayS);
  let child: ChildProcess | undefined;
  return {
    start: async () => {
      const started = serve(self);
      child = started;
      const exited = () => (started.exitCode !== null ? `syncthing exited ${started.exitCode}` : undefined);
      await until(() => folderIdle(self), "Syncthing's folder did not become idle", 900_000, 50, exited);
      return started;
    },
    stop: async () => {
      const running = child;
      child = undefined;
      if (running) await stopChild(running);
    },
  };
}
