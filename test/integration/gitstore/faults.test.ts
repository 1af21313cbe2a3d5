import assert from "node:assert/strict";
import { mkdir, readdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ProtocolError } from "../../../protocol/errors.ts";
import { fetchRefs, GitStoreError, push } from "../../../gitstore/index.ts";
import { FaultyStore, InjectedFault } from "../../helpers/faulty-store.ts";
import { commitFile, git, gitInput, snapshot } from "../../helpers/git.ts";
import { damageIndexedRef, useGitCloud } from "../../helpers/git-cloud.ts";

describe("git through the bucket: interrupted pushes and bad input", () => {
  const bed = useGitCloud("git-faults");
  const { clone } = bed;
  let counter = 0;

  /** A fresh clone fetches `expected` as main (fsck clean), and plain git clones it over dumb HTTP. */
  async function assertReadable(repo: string, expected: string) {
    const reader = await clone(repo);
    await fetchRefs(reader);
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), expected);
    await git(reader.dir, "fsck", "--strict", "--no-dangling");
    const plain = bed.path("plain");
    await git(bed.work, "clone", "-q", `${bed.t.cloud.endpoint}/${bed.t.cloud.bucket}/repos/${repo}.git`, plain);
    await git(plain, "fsck", "--strict", "--no-dangling");
  }

  const steps: [string, (key: string) => boolean, boolean][] = [
    ["after the pack", (key) => key.endsWith(".idx"), false],
    ["after the idx", (key) => key.endsWith("objects/info/packs"), false],
    ["after objects/info/packs (before the refs index)", (key) => key.endsWith("/info/refs"), false],
    ["after the refs index (before packed-refs)", (key) => key.endsWith("/packed-refs"), true],
  ];
  for (const [step, failBefore, landed] of steps) {
    it(`a push interrupted ${step} leaves the bucket readable and the next push completes it`, async () => {
      const repo = `interrupted-${counter++}`;
      const a = await clone(repo);
      const base = await commitFile(a.dir, "a.txt", "one\n");
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid: base }] });
      const next = await commitFile(a.dir, "a.txt", "two\n");
      await assert.rejects(
        push({ ...a, store: new FaultyStore(bed.store, failBefore), updates: [{ ref: "refs/heads/main", oid: next }] }),
        InjectedFault,
      );
      await assertReadable(repo, landed ? next : base);
      const names = new Set<string>();
      for await (const info of bed.store.list(bed.layout.packsRoot(repo))) names.add(info.key);
      if (step === "after the pack") {
        assert.ok(
          [...names].some((key) => key.endsWith(".pack") && !names.has(key.replace(/\.pack$/, ".idx"))),
          "a pack without its idx",
        );
      }
      const retried = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: next }] });
      assert.equal(retried.results[0]!.status, landed ? "up-to-date" : "updated");
      await assertReadable(repo, next);
    });
  }

  /** Pushes one commit from a fresh clone, then lets `damage` alter the bucket; a reader must refuse it. */
  async function assertRefused(
    repo: string,
    damage: (packKey: string) => Promise<void>,
    expected: { code: string; message: RegExp } | typeof ProtocolError,
    prepare?: (dir: string) => Promise<string>,
  ) {
    const a = await clone(repo);
    const oid = prepare ? await prepare(a.dir) : await commitFile(a.dir, "a.txt", "content\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    const packs: string[] = [];
    for await (const info of bed.store.list(bed.layout.packsRoot(repo))) if (info.key.endsWith(".pack")) packs.push(info.key);
    await damage(packs[0]!);
    const reader = await clone(repo);
    await commitFile(reader.dir, "mine.txt", "local work\n");
    const before = await snapshot(reader.gitDir);
    const error = await fetchRefs(reader).then(
      () => assert.fail("the fetch should have been refused"),
      (e: unknown) => e,
    );
    if (typeof expected === "function") assert.ok(error instanceof expected, String(error));
    else {
      assert.ok(error instanceof GitStoreError, String(error));
      assert.equal(error.code, expected.code);
      assert.match(error.message, expected.message);
    }
    assert.equal(await snapshot(reader.gitDir), before, "the local repository is exactly as it was");
    await git(reader.dir, "fsck", "--strict", "--no-dangling");
    assert.deepEqual(
      (await readdir(join(reader.gitDir, "objects"))).filter((name) => name.startsWith("tmp_objdir")),
      [],
    );
  }

  it("a push onto a damaged shared ref says what is wrong; a forced push repairs it", async () => {
    const a = await clone("repair");
    await damageIndexedRef(bed.store, bed.layout, "repair", "refs/heads/main", "garbage");
    const oid = await commitFile(a.dir, "a.txt", "a\n");
    await assert.rejects(push({ ...a, updates: [{ ref: "refs/heads/main", oid }] }), /refs\/heads\/main.*does not hold an object id/);
    const forced = await push({ ...a, updates: [{ ref: "refs/heads/main", oid, onConflict: "force" }] });
    assert.equal(forced.results[0]!.status, "forced");
    const reader = await clone("repair");
    await fetchRefs(reader);
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), oid);
  });

  it("a quarantine left by a killed fetch is removed by a later fetch, a day on", async () => {
    const a = await clone("abandoned");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: await commitFile(a.dir, "a.txt", "a\n") }] });
    const reader = await clone("abandoned");
    const objects = join(reader.gitDir, "objects");
    const old = join(objects, "tmp_objdir-cloudbridge-killed");
    const recent = join(objects, "tmp_objdir-cloudbridge-running");
    await mkdir(join(old, "pack"), { recursive: true });
    await mkdir(join(recent, "pack"), { recursive: true });
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    await utimes(old, twoDaysAgo, twoDaysAgo);
    await fetchRefs(reader);
    const left = (await readdir(objects)).filter((name) => name.startsWith("tmp_objdir"));
    assert.deepEqual(left, ["tmp_objdir-cloudbridge-running"]);
  });

  it("refuses a ref object holding garbage", async () => {
    await assertRefused(
      "bad-ref",
      () => damageIndexedRef(bed.store, bed.layout, "bad-ref", "refs/heads/main", "<html>not a commit</html>"),
      {
        code: "corrupt-ref",
        message: /refs\/heads\/main.*does not hold an object id/,
      },
    );
  });

  it("a damaged synced ref of one agent is reported, not fatal: the others still sync and its tracking ref stays", async () => {
    const a = await clone("bad-synced");
    const first = await commitFile(a.dir, "a.txt", "one\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: first }] });
    const reader = await clone("bad-synced");
    await fetchRefs(reader);
    const tracking = `refs/remotes/cloud-synced/${a.agent}/main`;
    assert.equal(await git(reader.dir, "rev-parse", tracking), first);
    const second = await commitFile(a.dir, "a.txt", "two\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: second }] });
    await damageIndexedRef(bed.store, bed.layout, "bad-synced", `refs/synced/${a.agent}/heads/main`, "garbage");
    const logged: string[] = [];
    const fetched = await fetchRefs({ ...reader, log: (line) => logged.push(line) });
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), second);
    assert.equal(await git(reader.dir, "rev-parse", tracking), first, "left as it was");
    assert.deepEqual([...fetched.refs.corrupt.keys()], [`refs/synced/${a.agent}/heads/main`]);
    assert.match(logged.join("\n"), /does not hold an object id/);
  });

  it("refuses a ref whose name is not a valid git ref", async () => {
    await assertRefused(
      "bad-ref-name",
      () => bed.store.put(`${bed.layout.repoRoot("bad-ref-name")}refs/heads/a..b`, `${"0".repeat(40)}\n`).then(() => {}),
      ProtocolError,
    );
  });

  /** Replaces the object at `key` with `change` applied to its bytes. */
  const rewrite = (change: (body: Buffer) => Buffer) => async (key: string) => {
    const object = await bed.store.get(key);
    assert.ok(object && object !== "not-modified");
    await bed.store.put(key, change(Buffer.from(object.body)));
  };

  it("refuses a pack whose bytes were flipped", async () => {
    const flip = (body: Buffer) => {
      body[Math.floor(body.length / 2)]! ^= 0xff;
      return body;
    };
    await assertRefused("flipped", rewrite(flip), { code: "corrupt-pack", message: /checksum does not match/ });
  });

  it("refuses a truncated pack", async () => {
    await assertRefused(
      "truncated",
      rewrite((body) => body.subarray(0, body.length - 30)),
      { code: "corrupt-pack", message: /damaged/ },
    );
  });

  it("refuses a pack whose idx is missing", async () => {
    await assertRefused("no-idx", (key) => bed.store.delete(key.replace(/\.pack$/, ".idx")), {
      code: "missing-idx",
      message: /has no index/,
    });
  });

  for (const name of ["..", ".git", "a/b"]) {
    it(`refuses a tree entry named ${JSON.stringify(name)}`, async () => {
      await assertRefused(
        `tree-${counter++}`,
        async () => {},
        { code: "unsafe-tree-entry", message: /refused by git/ },
        async (dir) => {
          const blob = await gitInput(dir, "evil\n", "hash-object", "-w", "--stdin");
          const entry = Buffer.concat([Buffer.from(`100644 ${name}\0`), Buffer.from(blob, "hex")]);
          const tree = await gitInput(dir, entry, "hash-object", "-t", "tree", "-w", "--literally", "--stdin");
          return git(dir, "commit-tree", tree, "-m", "evil");
        },
      );
    });
  }
});
