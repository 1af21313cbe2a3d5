import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { fetchRefs, push } from "../../../gitstore/index.ts";
import { commitFile, git, GIT_ENV, initRepo } from "../../helpers/git.ts";
import { useGitCloud } from "../../helpers/git-cloud.ts";

const run = promisify(execFile);
const NODE = process.execPath;
const PUSHERS = 8;

describe("concurrent pushes through the agent's push (merge on conflict)", () => {
  const bed = useGitCloud("git-concurrency");

  it(`${PUSHERS} processes pushing different commits at once: every commit is reachable from the final main`, async () => {
    const { store, layout, t } = bed;
    const origin = bed.path("origin");
    await mkdir(origin);
    const gitDir = await initRepo(origin);
    const base = await commitFile(origin, "README", "base\n");
    await push({ store, layout, repo: "race", gitDir, agent: randomUUID(), updates: [{ ref: "refs/heads/main", oid: base }] });

    const pushers = await Promise.all(
      Array.from({ length: PUSHERS }, async (_, i) => {
        const dir = bed.path("pusher");
        await git(bed.work, "clone", "-q", origin, dir);
        const oid = await commitFile(dir, `from-${i}.txt`, `pusher ${i}\n`);
        return { dir, oid, agent: randomUUID() };
      }),
    );
    const env = { ...process.env, ...t.cloud.env, ...GIT_ENV };
    const outcomes = await Promise.all(
      pushers.map(async ({ dir, oid, agent }) => {
        const { stdout } = await run(
          NODE,
          ["--disable-warning=ExperimentalWarning", "test/helpers/push-worker.ts", t.cloud.bucket, "race", join(dir, ".git"), agent, oid],
          { env },
        );
        return JSON.parse(stdout) as { results: { status: string }[] };
      }),
    );
    // All start from the same base, so exactly one push is a fast-forward; every other one had to merge.
    const statuses = outcomes.map((outcome) => outcome.results[0]!.status).sort();
    assert.deepEqual(statuses, ["merged", "merged", "merged", "merged", "merged", "merged", "merged", "updated"]);

    const reader = bed.path("reader");
    await mkdir(reader);
    await fetchRefs({ store, layout, repo: "race", gitDir: await initRepo(reader) });
    for (const { oid } of pushers) {
      await git(reader, "merge-base", "--is-ancestor", oid, "refs/remotes/cloud/main"); // throws if not reachable
    }
    await git(reader, "checkout", "-q", "-b", "main", "refs/remotes/cloud/main");
    for (let i = 0; i < PUSHERS; i++) assert.equal(await git(reader, "show", `HEAD:from-${i}.txt`), `pusher ${i}`);
    await git(reader, "fsck", "--strict", "--no-dangling");
  });
});
