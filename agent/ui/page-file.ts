import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "../../annex/index.ts";

/**
 * Where a running daemon's page is: `.git/cloudbridge/page.json` (mode 0600: it holds the token), written
 * when the page starts and removed when the daemon stops. `cloudbridge open` reads it.
 */
export interface PageInfo {
  url: string;
  origin: string;
  port: number;
  pid: number;
}

export function pageFile(root: string): string {
  return join(root, ".git", "cloudbridge", "page.json");
}

/** The running daemon's page for this folder, or undefined (no daemon, or one without a page). */
export async function readPageInfo(root: string): Promise<PageInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(pageFile(root), "utf8")) as PageInfo;
    return typeof info.url === "string" && isProcessAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}
