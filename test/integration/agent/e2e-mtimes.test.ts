import assert from "node:assert/strict";
import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cliOk, waitUntil } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

/**
 * Modification times travel: a file written on another machine (clone, sync, daemon) has the time it had
 * where it was changed, not the time it was written here. Through the real CLI and daemon.
 */
describe("modification times across machines", () => {
  const bed = useAgentCloud("mtimes");

  it("keeps each file's modification time through clone, sync and a daemon", async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/mtimes";
    const A = bed.path("a");
    const B = bed.path("b");
    await mkdir(join(A, "docs"), { recursive: true });
    const old = new Date("2020-02-29T12:34:56.789Z");
    const older = new Date("2011-11-11T11:11:11Z");
    await writeFile(join(A, "docs", "report.txt"), "the report\n");
    await utimes(join(A, "docs", "report.txt"), old, old);
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], env);
    await cliOk(["clone", url, B, "--listen", "poll", "--poll-interval", "1"], env);
    const mtime = async (path: string) => (await stat(path)).mtimeMs;
    /** Kept to the millisecond (the trailer's unit; the file system's finer part is not carried). */
    const same = (actual: number, expected: number, what: string) =>
      assert.ok(
        Math.abs(actual - expected) < 1,
        `${what}: ${new Date(actual).toISOString()} instead of ${new Date(expected).toISOString()}`,
      );
    same(await mtime(join(B, "docs", "report.txt")), old.getTime(), "clone");

    // An edit that keeps an old time (a restore from a backup, `touch -d`), taken by a sync and a daemon.
    await bed.daemon(B, ["--debounce", "50"]);
    await writeFile(join(A, "docs", "report.txt"), "the report, restored\n");
    await utimes(join(A, "docs", "report.txt"), older, older);
    await writeFile(join(A, "new.txt"), "new\n");
    const newTime = await mtime(join(A, "new.txt"));
    await cliOk(["sync", A], env);
    await waitUntil(
      async () => (await readFile(join(B, "docs", "report.txt"), "utf8").catch(() => "")) === "the report, restored\n" || undefined,
      "the daemon to take the edit",
    );
    await waitUntil(async () => (await readFile(join(B, "new.txt"), "utf8").catch(() => "")) === "new\n" || undefined, "new.txt on B");
    same(await mtime(join(B, "docs", "report.txt")), older.getTime(), "daemon");
    same(await mtime(join(B, "new.txt")), newTime, "a new file keeps the time it was made at on A");
  });
});
