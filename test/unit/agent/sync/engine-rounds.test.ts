import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SyncEngine } from "../../../../agent/sync/engine.ts";
import { LocalRepo } from "../../../../agent/sync/local-repo.ts";
import { BareRepoRemote, type SyncRemote } from "../../../../agent/sync/remote.ts";
import { tempDir } from "../../../helpers/git.ts";

/** Counts how often the engine talks to the remote. */
class CountingRemote implements SyncRemote {
  fetches = 0;
  private readonly inner: BareRepoRemote;
  constructor(inner: BareRepoRemote) {
    this.inner = inner;
  }
  fetch() {
    this.fetches += 1;
    return this.inner.fetch();
  }
  push(...args: Parameters<SyncRemote["push"]>) {
    return this.inner.push(...args);
  }
}

/** A remote whose pushes (or fetches) wait until let go, as over a slow or silent network. */
class StuckRemote implements SyncRemote {
  stuck: "push" | "fetch" | undefined;
  /** Resolves once a push or fetch is being held. */
  held: Promise<void> = Promise.resolve();
  private arrived: () => void = () => undefined;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  readonly inner: BareRepoRemote;
  constructor(inner: BareRepoRemote) {
    this.inner = inner;
  }
  /** The next `what` waits until `letGo` is called. */
  stick(what: "push" | "fetch"): void {
    this.stuck = what;
    this.held = new Promise((resolve) => (this.arrived = resolve));
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  letGo(): void {
    this.stuck = undefined;
    this.open();
  }
  private async wait(what: "push" | "fetch"): Promise<void> {
    if (this.stuck !== what) return;
    this.arrived();
    await this.gate;
  }
  async fetch() {
    const refs = await this.inner.fetch();
    await this.wait("fetch");
    return refs;
  }
  async push(...args: Parameters<SyncRemote["push"]>) {
    await this.wait("push");
    return this.inner.push(...args);
  }
}

describe("sync engine rounds", () => {
  let root: string;
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("engine-rounds");
    root = scratch.path;
  });
  after(async () => scratch.remove());

  async function agent(name: string, options: ConstructorParameters<typeof SyncEngine>[2] = {}) {
    const bare = join(root, `${name}.git`);
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const dir = join(root, name);
    await LocalRepo.create(dir);
    const repo = await new LocalRepo(dir, { name, email: `${name}@test` }).open();
    const remote = new CountingRemote(new BareRepoRemote(repo.git, bare));
    return { dir, remote, engine: new SyncEngine(repo, remote, options) };
  }

  it("runs work between rounds: after the round running, before a round asked meanwhile, never beside one", async () => {
    const rounds = { started: 0, ended: 0 };
    const { dir, engine } = await agent("between", {
      trace: (step) => {
        if (step === "locked") rounds.started += 1;
        if (step === "released") rounds.ended += 1;
      },
    });
    await writeFile(join(dir, "one.txt"), "1\n");
    const first = engine.sync();
    const seen: Array<typeof rounds> = [];
    const work = engine.between(async () => {
      seen.push({ ...rounds });
      // Time for a round asked meanwhile to start beside this work, were it let.
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen.push({ ...rounds });
      return "done";
    });
    // Asked while the first round runs, after the work: it waits for the work.
    const second = engine.sync(["one.txt"], { localOnly: true });
    assert.equal(await work, "done");
    await Promise.all([first, second]);
    assert.deepEqual(seen, [
      { started: 1, ended: 1 },
      { started: 1, ended: 1 },
    ]);
    assert.deepEqual(rounds, { started: 2, ended: 2 });
    assert.equal(await engine.between(async () => 42), 42, "with no round running, the work runs at once and gives its value");
    await assert.rejects(
      engine.between(async () => {
        throw new Error("failed work");
      }),
      /failed work/,
    );
    await engine.sync(); // a failed piece of work holds nothing up
  });

  it("reports scan progress to the caller (the progress bars of init, clone and sync)", async () => {
    const { dir, engine } = await agent("progress");
    for (const sub of ["a", "b", "c"]) {
      await mkdir(join(dir, sub));
      for (let i = 0; i < 5; i++) await writeFile(join(dir, sub, `f${i}.txt`), `${sub}${i}\n`);
    }
    const seen: number[] = [];
    const report = await engine.syncOnce({ onScanProgress: (n) => seen.push(n) });
    assert.ok(report.committed);
    assert.ok(seen.length > 0, "the scan reported progress");
    assert.equal(seen.at(-1), 15, "the last report counts every file");
    assert.deepEqual(
      seen,
      [...seen].sort((x, y) => x - y),
      "progress only goes forward",
    );
  });

  it("keeps each round's request to itself: a local-only request queued behind a full one stays local-only", async () => {
    const { dir, remote, engine } = await agent("rounds");
    await writeFile(join(dir, "one.txt"), "1\n");
    await engine.sync();
    const fetchesBefore = remote.fetches;
    // A full round runs; two local-only requests (watcher echoes) arrive meanwhile and are merged.
    const full = engine.sync();
    const echo1 = engine.sync(["one.txt"], { localOnly: true });
    const echo2 = engine.sync(["one.txt"], { localOnly: true });
    assert.equal(echo1, echo2, "requests made while a round runs join one queued round");
    await Promise.all([full, echo1]);
    assert.equal(remote.fetches - fetchesBefore, 1, "only the full round fetched: the queued round found nothing to commit");
    // A full request joining a queued local-only one makes it talk to the remote.
    const running = engine.sync();
    const queuedLocal = engine.sync(["one.txt"], { localOnly: true });
    const queuedFull = engine.sync([]);
    await Promise.all([running, queuedLocal, queuedFull]);
    assert.equal(remote.fetches - fetchesBefore, 3);
  });

  // How the daemon asks for the edit to be looked at: the watcher's paths, or the whole folder (the scans
  // made when the watcher failed, the periodic reconcile).
  const asks = {
    watcher: (engine: SyncEngine) => engine.sync(["second.txt"], { localOnly: true }),
    scan: (engine: SyncEngine) => engine.sync(undefined, { localOnly: true }),
    reconcile: (engine: SyncEngine) => engine.sync(),
  };
  for (const stuck of ["fetch", "push"] as const)
    for (const [by, ask] of Object.entries(asks))
      it(`commits a local edit seen by a ${by} while the round waits on its ${stuck}, and the next round publishes it`, async () => {
        const bare = join(root, `stuck-${stuck}-${by}.git`);
        execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
        const open = async (name: string) => {
          const dir = join(root, `stuck-${stuck}-${by}-${name}`);
          await LocalRepo.create(dir);
          const repo = await new LocalRepo(dir, { name, email: `${name}@test` }).open();
          const remote = new StuckRemote(new BareRepoRemote(repo.git, bare));
          return { dir, repo, remote, engine: new SyncEngine(repo, remote) };
        };
        const a = await open("a");
        const b = await open("b");
        await writeFile(join(a.dir, "shared.txt"), "base\n");
        await a.engine.sync();
        await b.engine.sync();

        await writeFile(join(a.dir, "first.txt"), "first\n");
        a.remote.stick(stuck);
        const round = a.engine.sync(["first.txt"], { localOnly: true });
        await a.remote.held;
        // Another machine pushes meanwhile, so that A's push has to merge (and the merge meets the commit made meanwhile).
        await writeFile(join(b.dir, "theirs.txt"), "from b\n");
        await b.engine.sync();
        // The person goes on while the network is stuck: this edit is in the history before the network answers.
        await writeFile(join(a.dir, "second.txt"), "second\n");
        const next = ask(a.engine);
        const committed = async () => (await a.repo.git.run(["ls-tree", "--name-only", "main"])).stdout.toString().split("\n");
        for (let i = 0; i < 200 && !(await committed()).includes("second.txt"); i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok((await committed()).includes("second.txt"), `second.txt is committed while the ${stuck} is stuck`);
        a.remote.letGo();
        await round;
        const report = await next;
        assert.ok(report.committed, "the next round reports the commit made meanwhile");
        assert.deepEqual(report.examples.sent, ["second.txt"]);
        const shared = execFileSync("git", ["--git-dir", bare, "ls-tree", "--name-only", "main"]).toString().split("\n").filter(Boolean);
        assert.deepEqual(shared.sort(), ["first.txt", "second.txt", "shared.txt", "theirs.txt"], "the shared branch holds every edit");
        assert.deepEqual((await committed()).filter(Boolean).sort(), shared.sort(), "and the folder's main is the shared one");
        assert.equal(await readFile(join(a.dir, "theirs.txt"), "utf8"), "from b\n", "the other machine's file is in the folder");
        assert.equal(await readFile(join(a.dir, "second.txt"), "utf8"), "second\n");
      });

  it("commits a local edit asked for while the round still worked on the folder once that round waits on the bucket", async () => {
    const bare = join(root, "before-wait.git");
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const dir = join(root, "before-wait");
    await LocalRepo.create(dir);
    const repo = await new LocalRepo(dir, { name: "a", email: "a@test" }).open();
    const remote = new StuckRemote(new BareRepoRemote(repo.git, bare));
    const engine = new SyncEngine(repo, remote);
    await writeFile(join(dir, "first.txt"), "first\n");
    await writeFile(join(dir, "second.txt"), "second\n");
    remote.stick("fetch");
    const round = engine.sync(["first.txt"], { localOnly: true });
    // Asked at once: the round is taking the folder's lock, scanning, committing; not yet waiting.
    const next = engine.sync(["second.txt"], { localOnly: true });
    await remote.held;
    const committed = async () => (await repo.git.run(["ls-tree", "--name-only", "main"])).stdout.toString().split("\n");
    for (let i = 0; i < 200 && !(await committed()).includes("second.txt"); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok((await committed()).includes("second.txt"), "second.txt is committed while the fetch is stuck");
    remote.letGo();
    await round;
    assert.deepEqual((await next).examples.sent, ["second.txt"], "the next round reports and publishes it");
    const shared = execFileSync("git", ["--git-dir", bare, "ls-tree", "--name-only", "main"]).toString().split("\n").filter(Boolean);
    assert.deepEqual(shared.sort(), ["first.txt", "second.txt"]);
  });

  it("asks for the round a finished one calls for", async () => {
    const { engine } = await agent("policy");
    assert.equal(engine.followUp({ pending: true, contentArrived: true }), "full");
    assert.equal(engine.followUp({ pending: false, contentArrived: true }), "publish");
    assert.equal(engine.followUp({ pending: false, contentArrived: false }), undefined);
  });
});
