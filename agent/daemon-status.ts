import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "../annex/index.ts";
import type { DaemonStatus } from "./daemon.ts";
import type { Folder } from "./folder/index.ts";

/**
 * The file a running daemon keeps its status in, and reading it: apart from the daemon, so that `status`
 * and `remove-queue` do not load the daemon (its listeners, watcher and page) to read one JSON file.
 */
export function statusFile(folder: Folder | string): string {
  const root = typeof folder === "string" ? folder : folder.root;
  return join(root, ".git", "cloudbridge", "daemon.json");
}

export async function readDaemonStatus(root: string): Promise<(DaemonStatus & { running: boolean }) | undefined> {
  try {
    const status = JSON.parse(await readFile(statusFile(root), "utf8")) as DaemonStatus;
    return { ...status, running: isProcessAlive(status.pid) };
  } catch {
    return undefined;
  }
}
