import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { cliOk, waitUntil } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { snapshot } from "../../helpers/folders.ts";
import { inHistory, missingFrom, versionOf, type Version } from "../../helpers/versions.ts";
import { readSharedRefNow } from "../../../gitstore/index.ts";

/**
 * Three machines editing at random — create, modify, delete, rename, small files and annexed ones — for
 * 200 rounds while their daemons sync, then quiet: all three folders and the bucket end identical, and
 * every version any of them ever wrote is reachable in history (a version that lost a conflict is there
 * as a variant file too). Each edit waits only until its own daemon has committed it (so the test knows
 * the version was recorded) before it overwrites or removes it, never for the others: merges happen all along.
 */
const ROUNDS = 200;
const MINSIZE = 4096;

describe("three agents, random edits, then quiet", () => {
  const bed = useAgentCloud("e2e-three");

  it(`converges after ${ROUNDS} rounds with nothing lost`, async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/three";
    const dirs = ["a", "b", "c"].map((n) => bed.path(n));
    const common = ["--topic-arn", bed.t.cloud.topicArn, "--listen", "sqs"];
    await cliOk(["init", dirs[0]!, "--remote", url, ...common], env);
    for (const dir of dirs.slice(1)) await cliOk(["clone", url, dir, ...common], env);
    for (const dir of dirs)
      execFileSync("git", ["config", "cloudbridge.largefiles.minsize", String(MINSIZE)], {
        env: { ...process.env, GIT_DIR: join(dir, ".git") },
      });
    for (const dir of dirs) await bed.daemon(dir, ["--debounce", "50", "--reconcile-interval", "5"]);

    const versions: Version[] = [];
    // Versions written but not yet seen committed, by folder and path: before an edit destroys one, the
    // test waits for its own daemon to have recorded it (a person's edit a millisecond later would lose it too).
    const unconfirmed = new Map<string, Version>();
    let counter = 0;
    const filesOf = async (dir: string) => (await readdir(dir)).filter((n) => !n.startsWith("."));
    const confirm = async (dir: string, path: string) => {
      const version = unconfirmed.get(`${dir}/${path}`);
      if (!version) return;
      await waitUntil(() => inHistory(dir, "main", version.blob) || undefined, `${path} committed in ${dir}`, 60_000, 50);
      unconfirmed.delete(`${dir}/${path}`);
    };

    for (let round = 0; round < ROUNDS; round += 1) {
      const dir = dirs[Math.floor(Math.random() * dirs.length)]!;
      const files = await filesOf(dir);
      const pick = files[Math.floor(Math.random() * files.length)];
      const op =
        files.length < 3 || !pick
          ? "create"
          : (["create", "modify", "modify", "delete", "rename"] as const)[Math.floor(Math.random() * 5)]!;
      if (op !== "create") await confirm(dir, pick!);
      if (op === "create" || op === "modify") {
        const name = op === "create" ? `f${counter++}.${Math.random() < 0.3 ? "bin" : "txt"}` : pick!;
        const annexed = name.endsWith(".bin");
        const content = annexed
          ? randomBytes(MINSIZE + Math.floor(Math.random() * 4096))
          : Buffer.from(`${name} round ${round} from ${dir.slice(-1)} ${randomBytes(4).toString("hex")}\n`);
        await writeFile(join(dir, name), content);
        const version = versionOf(name, content, content.length >= MINSIZE);
        versions.push(version);
        unconfirmed.set(`${dir}/${name}`, version);
      } else if (op === "delete") {
        await rm(join(dir, pick!), { force: true });
      } else {
        await rename(join(dir, pick!), join(dir, `r${counter++}-${pick!.replace(/^r\d+-/, "")}`)).catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    for (const key of [...unconfirmed.keys()]) {
      const slash = key.lastIndexOf("/");
      await confirm(key.slice(0, slash), key.slice(slash + 1)).catch(() => undefined); // a later merge may have replaced it: checked below
    }

    // Quiet: wait for one head everywhere (bucket included), and the same files with their content.
    const store = new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3);
    const layout = new BucketLayout("");
    const heads = async () => {
      const bucket = await readSharedRefNow(store, layout, "three", "refs/heads/main");
      const local = dirs.map((dir) =>
        execFileSync("git", ["rev-parse", "main"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } })
          .toString()
          .trim(),
      );
      return { bucket, local };
    };
    await waitUntil(
      async () => {
        const { bucket, local } = await heads();
        if (!local.every((h) => h === bucket)) return undefined;
        const [sa, sb, sc] = await Promise.all(dirs.map((d) => snapshotBytes(d)));
        if (!sa || !sb || !sc) return undefined;
        return JSON.stringify(sa) === JSON.stringify(sb) && JSON.stringify(sb) === JSON.stringify(sc) ? true : undefined;
      },
      "all three folders and the bucket to agree",
      180_000,
      500,
    );

    // Checked at rest: `git fsck` reads packs and reflogs as plain files, and a daemon's `gc --auto` or ref
    // update under it reads as corruption.
    for (const d of bed.daemons) assert.equal(await d.stop(), 0, `the daemon on ${d.dir} stops cleanly`);
    const final = await snapshot(dirs[0]!);
    assert.ok(Object.keys(final).length > 0);
    assert.ok(!Object.values(final).some((text) => text.startsWith("/annex/objects/")), "every annexed file has its content");
    for (const dir of dirs) {
      assert.deepEqual(missingFrom(dir, versions), [], `every version is reachable from ${dir}`);
      execFileSync("git", ["fsck", "--no-progress"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
    }
    for (const v of versions.filter((v) => v.key)) {
      assert.ok(await store.head(layout.annexObject("three", v.key!)), `annexed content ${v.key} is in the bucket`);
    }
    const variants = Object.keys(final).filter((p) => p.includes(".variant-"));
    process.stderr.write(
      `# ${versions.length} versions written, ${Object.keys(final).length} files at the end, ${variants.length} variant files\n`,
    );
  });
});

/**
 * The folder's files and their bytes. The daemons still run while it is read, so a file listed a moment
 * ago may be gone (a checkout's rename or delete): that reads as "not yet settled", never as a failure.
 */
async function snapshotBytes(dir: string): Promise<Record<string, string> | undefined> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name === ".git" || name.startsWith(".cloudbridge-tmp-")) continue;
    const bytes = await readFile(join(dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (bytes === undefined) return undefined;
    out[name] = bytes.toString("base64");
  }
  return out;
}
