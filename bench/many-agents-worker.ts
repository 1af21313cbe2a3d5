/**
 * One worker process of bench/many-agents.ts: runs a share of the simulated agents, each a small loop over
 * gitstore (no daemon, no folder): its own bare repository, its own SQS queue subscribed to the change
 * topic (the daemon's SqsListener), the daemon's spread of notification hints, and on each hint a fetch of
 * the bucket's refs (`fetchRefs`, as the daemon's sync does) that fast-forwards its branch. On the parent's
 * word it makes its changes (one file of its own per commit) and pushes them, merging on conflict, as the
 * daemon does. Every S3 request goes through a counting store, by what it was for (push or fetch) and by
 * the object it names; the write conflicts (412) are counted the same way.
 */
import { mkdir, rm } from "node:fs/promises";
import { Agent } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { fetchRefs, push, treeMergeCallback } from "../gitstore/index.ts";
import { Backoff } from "../agent/backoff.ts";
import { spreadHints, type SpreadHints } from "../agent/listen/hint-spread.ts";
import { SqsListener } from "../agent/listen/sqs.ts";
import { gitText, initRepository, runGit } from "../localgit/index.ts";
import {
  CONNECT_TIMEOUT_MS,
  createS3Client,
  IDLE_TIMEOUT_MS,
  ObjectMissing,
  PreconditionFailed,
  S3ObjectStore,
  type GetOptions,
  type ObjectStore,
  type PutOptions,
  type UploadBody,
  type UploadOptions,
} from "../objectstore/index.ts";
import { BucketLayout } from "../protocol/index.ts";
import { GIT_ENV } from "../test/helpers/git.ts";

export interface WorkerSetup {
  bucket: string;
  topicArn: string;
  workDir: string;
  agents: { id: string; repo: string }[];
  /** Changes each agent makes, at random times within `windowMs`. */
  changes: number;
  windowMs: number;
  spreadMs: number;
}

/** What a worker tells the parent. */
export type WorkerEvent =
  | { type: "ready" }
  | {
      type: "pushed";
      repo: string;
      agent: string;
      commit: string;
      madeAt: number;
      landedAt: number;
      /** How long gitstore's push took, its conflicts and merges included. */
      pushMs: number;
      conflicts: number;
      requests: number;
    }
  | { type: "seen"; repo: string; agent: string; commits: string[]; at: number }
  | { type: "fetched"; repo: string; agent: string; startedAt: number; requests: number }
  | { type: "changes-done" }
  | {
      type: "stats";
      requests: Record<string, number>;
      conflicts: Record<string, number>;
      maxConflictsInOnePush: number;
      /** Rounds whose push gave up (its change waited for the next round). */
      failedRounds: number;
      /** Changes still waiting when the run stopped. */
      unpushed: number;
      errors: string[];
    };

export type Phase = "setup" | "push" | "fetch";

/** The hot object a key is, for the counts: info/refs, objects/info/packs, a shared or synced ref, a pack. */
export function keyKind(key: string): string {
  if (key.endsWith("/info/refs")) return "info/refs";
  if (key.endsWith("/objects/info/packs")) return "objects/info/packs";
  if (/\/refs\/heads\//.test(key)) return "shared ref";
  if (/\/refs\//.test(key)) return "synced ref";
  if (/\/objects\/pack\//.test(key)) return "pack";
  if (key.endsWith("/")) return "ref list";
  return "other";
}

/** Counts every request an agent makes, by phase and by kind of object, and every write that lost a race (412). */
class CountingStore implements ObjectStore {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  phase: Phase = "setup";
  total = 0;
  readonly requests = new Map<string, number>();
  readonly conflicts = new Map<string, number>();
  private readonly inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.inner = inner;
    this.bucket = inner.bucket;
    this.endpoint = inner.endpoint;
  }

  private count(key: string, verb: string) {
    this.total++;
    const name = `${this.phase} ${verb} ${keyKind(key)}`;
    this.requests.set(name, (this.requests.get(name) ?? 0) + 1);
  }

  private async conditional<T>(key: string, verb: string, write: () => Promise<T>): Promise<T> {
    this.count(key, verb);
    try {
      return await write();
    } catch (error) {
      if (error instanceof PreconditionFailed || error instanceof ObjectMissing) {
        const name = keyKind(key);
        this.conflicts.set(name, (this.conflicts.get(name) ?? 0) + 1);
      }
      throw error;
    }
  }

  get(key: string, options?: GetOptions) {
    this.count(key, "GET");
    return this.inner.get(key, options);
  }
  getStream(key: string, options?: { range?: { start: number; end: number } }) {
    this.count(key, "GET");
    return this.inner.getStream(key, options);
  }
  head(key: string) {
    this.count(key, "HEAD");
    return this.inner.head(key);
  }
  async *list(prefix: string) {
    this.count(prefix, "LIST");
    let n = 0;
    for await (const info of this.inner.list(prefix)) {
      if (++n % 1000 === 0) this.count(prefix, "LIST");
      yield info;
    }
  }
  listPrefixes(prefix: string) {
    this.count(prefix, "LIST");
    return this.inner.listPrefixes(prefix);
  }
  put(key: string, body: Buffer | string, options?: PutOptions) {
    return this.conditional(key, "PUT", () => this.inner.put(key, body, options));
  }
  upload(key: string, body: UploadBody, options?: UploadOptions) {
    return this.conditional(key, "PUT", () => this.inner.upload(key, body, options));
  }
  delete(key: string, options?: { ifMatch?: string }) {
    return this.conditional(key, "DELETE", () => this.inner.delete(key, options));
  }
}

const layout = new BucketLayout();
const MAIN = "refs/heads/main";

class SimulatedAgent {
  readonly id: string;
  readonly repo: string;
  readonly gitDir: string;
  readonly store: CountingStore;
  private listener: SqsListener | undefined;
  private hint: SpreadHints | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly waiting: { n: number; madeAt: number }[] = [];
  private readonly backoff = new Backoff();
  private retry: NodeJS.Timeout | undefined;
  private stopping = false;
  failedRounds = 0;

  get unpushed(): number {
    return this.waiting.length;
  }
  private readonly emit: (event: WorkerEvent) => void;
  private readonly errors: string[];
  maxConflicts = 0;

  constructor(
    setup: WorkerSetup,
    agent: { id: string; repo: string },
    store: ObjectStore,
    emit: (event: WorkerEvent) => void,
    errors: string[],
  ) {
    this.id = agent.id;
    this.repo = agent.repo;
    this.gitDir = join(setup.workDir, agent.id);
    this.store = new CountingStore(store);
    this.emit = emit;
    this.errors = errors;
  }

  private get ctx() {
    return { gitDir: this.gitDir, store: this.store, layout, repo: this.repo };
  }

  /**
   * A round, as the daemon's sync engine runs them: one at a time; one asked for while another runs is
   * queued, and later requests join the queued one. A round fetches, then pushes the changes waiting.
   */
  private round(): Promise<void> {
    if (!this.running) {
      this.running = this.roundOnce().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.round();
    });
    return this.queued;
  }

  private async roundOnce(): Promise<void> {
    try {
      await this.fetch();
      while (this.waiting.length > 0) {
        await this.commitAndPush(this.waiting[0]!);
        this.waiting.shift();
        this.backoff.reset();
      }
    } catch (error) {
      // As the daemon: the change stays waiting and the round is tried again after a backoff.
      this.failedRounds++;
      this.errors.push(`${this.id}: ${(error as Error).message}`);
      if (!this.stopping) this.retry = setTimeout(() => void this.round(), this.backoff.next());
    }
  }

  async start(setup: WorkerSetup, client: { endpoint?: string; region?: string }) {
    await mkdir(this.gitDir, { recursive: true });
    await initRepository(this.gitDir, { bare: true });
    await this.fetch();
    this.hint = spreadHints(() => void this.round(), { maxMs: setup.spreadMs });
    this.listener = new SqsListener({
      topicArn: setup.topicArn,
      agent: this.id,
      location: { bucket: setup.bucket, prefix: "", repo: this.repo },
      client,
      waitSeconds: 20,
      onError: (error) => this.errors.push(`${this.id} listener: ${(error as Error).message}`),
    });
    await this.listener.start((message) => this.hint!(message));
  }

  private async main(): Promise<string | undefined> {
    const run = await runGit(["rev-parse", "--verify", "-q", MAIN], { gitDir: this.gitDir, allowFailure: true });
    return run.code === 0 ? run.stdout.toString().trim() : undefined;
  }

  /** Commits of other agents' changes between `from` and `to`, by their message `change <agent> <n>`. */
  private async othersChanges(from: string | undefined, to: string): Promise<string[]> {
    const range = from ? [to, `^${from}`] : [to];
    const log = await gitText(["log", "--no-merges", "--format=%H %s", ...range], { gitDir: this.gitDir });
    return log
      .split("\n")
      .filter((line) => line.includes(" change ") && !line.includes(` change ${this.id} `))
      .map((line) => line.slice(0, 40));
  }

  private async moveMain(to: string) {
    const from = await this.main();
    if (from === to) return;
    if (from && (await runGit(["merge-base", "--is-ancestor", from, to], { gitDir: this.gitDir, allowFailure: true })).code !== 0) return;
    await gitText(["update-ref", MAIN, to], { gitDir: this.gitDir });
    const seen = await this.othersChanges(from, to);
    if (seen.length > 0) this.emit({ type: "seen", repo: this.repo, agent: this.id, commits: seen, at: Date.now() });
  }

  private async fetch() {
    const startedAt = Date.now();
    this.store.phase = "fetch";
    const before = this.store.total;
    const result = await fetchRefs({ ...this.ctx, remote: "cloud", required: [MAIN] });
    const tip = result.refs.shared.get(MAIN)?.oid;
    if (tip) await this.moveMain(tip);
    this.emit({ type: "fetched", repo: this.repo, agent: this.id, startedAt, requests: this.store.total - before });
  }

  /** A change saved: it is committed and pushed by the next round. */
  change(n: number): Promise<void> {
    this.waiting.push({ n, madeAt: Date.now() });
    return this.round();
  }

  private async commitAndPush({ n, madeAt }: { n: number; madeAt: number }): Promise<void> {
    const parent = await this.main();
    const blob = await gitText(["hash-object", "-w", "--stdin"], { gitDir: this.gitDir, input: `change ${n} of ${this.id}\n` });
    const index = join(this.gitDir, "bench-index");
    const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
    await rm(index, { force: true });
    if (parent) await gitText(["read-tree", parent], { gitDir: this.gitDir, env });
    await gitText(["update-index", "--add", "--cacheinfo", `100644,${blob},agents/${this.id}.txt`], { gitDir: this.gitDir, env });
    const tree = await gitText(["write-tree"], { gitDir: this.gitDir, env });
    const commit = await gitText(["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", `change ${this.id} ${n}`], {
      gitDir: this.gitDir,
      env,
    });
    {
      this.store.phase = "push";
      const before = this.store.total;
      const conflictsBefore = [...this.store.conflicts.values()].reduce((a, b) => a + b, 0);
      const pushStarted = performance.now();
      const outcome = await push({
        ...this.ctx,
        agent: this.id,
        remote: "cloud",
        updates: [{ ref: MAIN, oid: commit, onConflict: treeMergeCallback(this.gitDir) }],
      });
      const landed = outcome.results[0]!;
      if (landed.status === "rejected" || !landed.oid) throw new Error(`push of ${commit} was rejected: ${landed.reason}`);
      const landedAt = Date.now();
      await gitText(["update-ref", MAIN, landed.oid], { gitDir: this.gitDir });
      const conflicts = [...this.store.conflicts.values()].reduce((a, b) => a + b, 0) - conflictsBefore;
      this.maxConflicts = Math.max(this.maxConflicts, conflicts);
      this.emit({
        type: "pushed",
        repo: this.repo,
        agent: this.id,
        commit,
        madeAt,
        landedAt,
        pushMs: performance.now() - pushStarted,
        conflicts,
        requests: this.store.total - before,
      });
      // A merge brought in others' changes: this agent has them now.
      if (landed.oid !== commit) {
        const seen = await this.othersChanges(commit, landed.oid);
        if (seen.length > 0) this.emit({ type: "seen", repo: this.repo, agent: this.id, commits: seen, at: landedAt });
      }
    }
  }

  async stop() {
    this.stopping = true;
    clearTimeout(this.retry);
    this.hint?.cancel();
    await this.listener?.stop();
    await this.queued;
    await this.running;
  }
}

const emit = (event: WorkerEvent) => process.send!(event);
let agents: SimulatedAgent[] = [];
let setup: WorkerSetup;
const errors: string[] = [];

process.on("message", (message: { type: "setup"; setup: WorkerSetup } | { type: "go" } | { type: "stop" }) => {
  void (async () => {
    if (message.type === "setup") {
      setup = message.setup;
      // More sockets than the SDK's default 50: a worker's agents all fetch within the spread.
      const httpAgent = new Agent({ keepAlive: true, maxSockets: 256 });
      const client = createS3Client({
        requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS, httpAgent },
      });
      const store = new S3ObjectStore(setup.bucket, client);
      const region = process.env.AWS_REGION;
      const cloud = { ...(process.env.AWS_ENDPOINT_URL ? { endpoint: process.env.AWS_ENDPOINT_URL } : {}), ...(region ? { region } : {}) };
      agents = setup.agents.map((agent) => new SimulatedAgent(setup, agent, store, emit, errors));
      // A few at a time: each creates and subscribes a queue.
      for (let i = 0; i < agents.length; i += 10) await Promise.all(agents.slice(i, i + 10).map((agent) => agent.start(setup, cloud)));
      emit({ type: "ready" });
    } else if (message.type === "go") {
      await Promise.all(
        agents.map(async (agent) => {
          const times = Array.from({ length: setup.changes }, () => Math.random() * setup.windowMs).sort((a, b) => a - b);
          const start = performance.now();
          for (const [n, at] of times.entries()) {
            await sleep(Math.max(0, at - (performance.now() - start)));
            void agent.change(n);
          }
        }),
      );
      emit({ type: "changes-done" });
    } else {
      await Promise.all(agents.map((agent) => agent.stop()));
      const requests: Record<string, number> = {};
      const conflicts: Record<string, number> = {};
      for (const agent of agents) {
        for (const [name, n] of agent.store.requests) requests[name] = (requests[name] ?? 0) + n;
        for (const [name, n] of agent.store.conflicts) conflicts[name] = (conflicts[name] ?? 0) + n;
      }
      emit({
        type: "stats",
        requests,
        conflicts,
        maxConflictsInOnePush: Math.max(0, ...agents.map((agent) => agent.maxConflicts)),
        failedRounds: agents.reduce((sum, agent) => sum + agent.failedRounds, 0),
        unpushed: agents.reduce((sum, agent) => sum + agent.unpushed, 0),
        errors,
      });
      process.disconnect();
    }
  })().catch((error: unknown) => {
    errors.push((error as Error).stack ?? String(error));
    emit({ type: "stats", requests: {}, conflicts: {}, maxConflictsInOnePush: 0, failedRounds: 0, unpushed: 0, errors });
    process.exit(1);
  });
});
