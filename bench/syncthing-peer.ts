/**
 * The peer the agent benchmarks measure against: two Syncthing instances (Debian's package, 1.19) on
 * 127.0.0.1 sharing one folder, each with a generated device ID, nothing announced or relayed, the
 * watcher on with `fsWatcherDelayS` as given (1 s: how the peer figures of the performance goals were
 * taken). Missing Syncthing: `apt-get install syncthing`.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const SYNCTHING = process.env.BENCH_SYNCTHING ?? "/usr/bin/syncthing";

export interface SyncthingPair {
  /** The two synced folders. */
  a: string;
  b: string;
  /** Peak resident memory of each instance so far (kB, from /proc). */
  stop(): Promise<void>;
}

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

interface Instance {
  home: string;
  folder: string;
  id: string;
  port: number;
  gui: number;
  apiKey: string;
  child?: ChildProcess;
}

/** Starts the pair over `dirA` and `dirB` (created if missing) and waits until both see each other. */
export async function startSyncthingPair(root: string, dirA: string, dirB: string, watcherDelayS = 1): Promise<SyncthingPair> {
  const missing = syncthingMissing();
  if (missing) throw new Error(missing);
  const make = async (name: string, folder: string): Promise<Instance> => {
    const home = join(root, `syncthing-${name}`);
    await mkdir(folder, { recursive: true });
    await run(SYNCTHING, ["generate", `--home=${home}`, "--no-default-folder"]);
    const { stdout } = await run(SYNCTHING, ["serve", `--home=${home}`, "--device-id"]);
    return { home, folder, id: stdout.trim(), port: await freePort(), gui: await freePort(), apiKey: randomBytes(16).toString("hex") };
  };
  const a = await make("a", dirA);
  const b = await make("b", dirB);
  const device = (i: Instance, name: string) =>
    `<device id="${i.id}" name="${name}" compression="metadata" introducer="false"><address>tcp://127.0.0.1:${i.port}</address></device>`;
  const config = (self: Instance) => `<configuration version="36">
  <folder id="bench" label="bench" path="${self.folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="${watcherDelayS}" ignorePerms="false" autoNormalize="true">
    <filesystemType>basic</filesystemType>
    <device id="${a.id}"></device>
    <device id="${b.id}"></device>
    <minDiskFree unit="%">0</minDiskFree>
  </folder>
  ${device(a, "a")}
  ${device(b, "b")}
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
`;
  for (const i of [a, b]) {
    await writeFile(join(i.home, "config.xml"), config(i));
    i.child = spawn(SYNCTHING, ["serve", `--home=${i.home}`, "--no-browser", "--no-restart", "--no-upgrade"], {
      stdio: "ignore",
      env: { ...process.env, STNORESTART: "1", STNOUPGRADE: "1" },
    });
  }
  const api = async (i: Instance, path: string): Promise<unknown> => {
    const response = await fetch(`http://127.0.0.1:${i.gui}${path}`, { headers: { "X-API-Key": i.apiKey } });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const connected = await Promise.all(
      [
        [a, b],
        [b, a],
      ].map(async ([self, other]) => {
        const state = (await api(self!, "/rest/system/connections").catch(() => undefined)) as
          { connections: Record<string, { connected: boolean }> } | undefined;
        return state?.connections[other!.id]?.connected === true;
      }),
    );
    if (connected.every(Boolean)) break;
    if (Date.now() > deadline) throw new Error("the two Syncthing instances did not connect within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  // Both folders scanned and idle.
  for (;;) {
    const states = await Promise.all([a, b].map((i) => api(i, "/rest/db/status?folder=bench").catch(() => undefined)));
    if (states.every((s) => (s as { state?: string } | undefined)?.state === "idle")) break;
    if (Date.now() > deadline + 600_000) throw new Error("Syncthing's folders did not become idle");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    a: dirA,
    b: dirB,
    stop: async () => {
      for (const i of [a, b]) {
        const child = i.child!;
        if (child.exitCode !== null || child.signalCode !== null) continue;
        await new Promise<void>((done) => {
          child.once("exit", () => done());
          child.kill("SIGTERM");
        });
      }
    },
  };
}
