import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before } from "node:test";
import type { LocalCloudOptions } from "../../local/cloud.ts";
import { agentEnv, startDaemon, type Daemon } from "./agents.ts";
import { startAgentPair, type AgentPair } from "./annex-repos.ts";
import { tempDir } from "./git.ts";
import { startTestCloud, type TestCloud } from "./local-cloud.ts";

/**
 * What a test file sets up before its tests and takes down after them, registered with node:test's
 * `before`/`after` where it is called (the file, or one `describe`). Kept apart from git.ts, which the
 * bench scripts import too.
 */

/** A scratch folder made before the tests and removed after them. */
export function useTempDir(prefix: string): { readonly path: string } {
  let scratch: { path: string; remove(): Promise<void> } | undefined;
  before(async () => {
    scratch = await tempDir(prefix);
  });
  after(async () => scratch?.remove());
  return {
    get path(): string {
      if (!scratch) throw new Error(`the scratch folder ${prefix} is made in before(): use it inside a test`);
      return scratch.path;
    },
  };
}

/** What an end-to-end agent test file shares: one local cloud, a scratch folder, and daemons stopped after the tests. */
export interface AgentCloud {
  readonly t: TestCloud;
  /** The environment the CLI and daemons run with, pointed at the local cloud. */
  readonly env: Record<string, string>;
  /** `name` under the scratch folder. */
  path(name: string): string;
  /** The daemons started through `daemon`, in order. */
  readonly daemons: readonly Daemon[];
  /** A daemon on `dir` (as `startDaemon`), stopped after the tests if the test did not stop it. */
  daemon(dir: string, flags?: string[], options?: Parameters<typeof startDaemon>[3]): Promise<Daemon>;
  /**
   * Makes `dir` read-only for everyone, root included (a read-only bind mount of it on itself: root ignores
   * mode bits, so permissions would prove nothing), until `writable()` or the end of the tests, when it is
   * unmounted after the daemons stop and before the scratch folder goes. Needs root, as the tests run.
   */
  readOnly(dir: string): { writable(): void };
}

/** Starts the local cloud before the tests; after them stops every daemon started here, then the cloud, and removes the scratch folder. */
export function useAgentCloud(name: string, options: LocalCloudOptions = {}): AgentCloud {
  const daemons: Daemon[] = [];
  const mounts: string[] = [];
  let cloud: TestCloud | undefined;
  before(async () => {
    cloud = await startTestCloud(options);
  });
  // Registered before the scratch folder's, so it runs first: daemons stop, then mounts go, before their folders.
  after(async () => {
    for (const daemon of daemons) await daemon.stop();
    for (const mount of mounts.reverse()) execFileSync("umount", [mount]);
    await cloud?.stop();
  });
  const scratch = useTempDir(name);
  const started = (): TestCloud => {
    if (!cloud) throw new Error("the local cloud starts in before(): use it inside a test");
    return cloud;
  };
  return {
    get t() {
      return started();
    },
    get env() {
      return agentEnv(started().cloud.env);
    },
    daemons,
    path: (base) => join(scratch.path, base),
    daemon: async (dir, flags = [], daemonOptions = {}) => {
      const daemon = await startDaemon(dir, agentEnv(started().cloud.env), flags, daemonOptions);
      daemons.push(daemon);
      return daemon;
    },
    readOnly: (dir) => {
      execFileSync("mount", ["--bind", dir, dir]);
      mounts.push(dir);
      execFileSync("mount", ["-o", "remount,bind,ro", dir]);
      return {
        writable: () => {
          execFileSync("umount", [dir]);
          mounts.splice(mounts.indexOf(dir), 1);
        },
      };
    },
  };
}

/**
 * The usual set-up of an annex test (annex-repos.ts's startAgentPair: a local cloud and agents A and B on
 * repository `repo`), made before the tests and stopped after them.
 */
export function useAgentPair(repo: string): Omit<AgentPair, "stop"> {
  let pair: AgentPair | undefined;
  before(async () => {
    pair = await startAgentPair(repo);
  });
  after(async () => pair?.stop());
  const started = (): AgentPair => {
    if (!pair) throw new Error(`the agents of ${repo} start in before(): use them inside a test`);
    return pair;
  };
  return {
    get test() {
      return started().test;
    },
    get root() {
      return started().root;
    },
    get a() {
      return started().a;
    },
    get b() {
      return started().b;
    },
  };
}
