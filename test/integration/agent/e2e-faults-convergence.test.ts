import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { agentEnv, cli, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { prng, startFaultProxy, type FaultProxy, type FaultRates } from "../../helpers/fault-proxy.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { versionOf, type Version } from "../../helpers/versions.ts";
import { readSharedRefNow } from "../../../gitstore/index.ts";

/**
 * Three machines (real daemons, set up through the real CLI) reach the local cloud only through the
 * fault proxy: 5xx, SlowDown, resets before and after the cloud applied a request, cut bodies and delays,
 * on every request of init, clone, sync and listening. People edit at random — files with odd names
 * (spaces, unicode, `+`, `%`, `#`, quotes, a leading dash), directories, renames, deletes, small files
 * and annexed ones — then stop. The folders must end identical, every version anyone wrote must be in
 * the shared branch's history (and every annexed one's content in the cloud), and git's and the agent's
 * own fsck must be clean.
 *
 * The seed of every random choice (edits, contents, faults) is printed; CLOUDBRIDGE_TEST_SEED=<seed>
 * replays the same edits and the same faults per request (timing still varies between runs).
 */
const SEED = process.env.CLOUDBRIDGE_TEST_SEED ? Number(process.env.CLOUDBRIDGE_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
const EDITS = 120;
const MINSIZE = 4096;
const RATES: FaultRates = {
  error500: 0.02,
  error503: 0.02,
  slowDown: 0.02,
  resetBefore: 0.02,
  resetAfter: 0.03,
  cutBody: 0.02,
  delay: 0.03,
};
const DELAY_MS = 1000;
// Asynchronous: the local cloud runs in this process, so a synchronous child talking to it would wait forever.
const run = promisify(execFile);

describe("three agents through injected faults, random edits, then quiet", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let proxy: FaultProxy;
  const daemons: Daemon[] = [];
  before(async () => {
    process.stderr.write(`# seed ${SEED} (CLOUDBRIDGE_TEST_SEED=${SEED} reproduces this run)\n`);
    scratch = await tempDir("e2e-faults");
    t = await startTestCloud();
    proxy = await startFaultProxy({ target: t.cloud.endpoint, seed: SEED, rates: RATES, delayMs: DELAY_MS });
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    await proxy.stop();
    await t.stop();
    await scratch.remove();
  });

  it(`converges with nothing lost (seed ${SEED})`, async () => {
    const started = Date.now();
    try {
      await scenario();
    } catch (error) {
      const faults = Object.entries(proxy.counts).map(([k, v]) => `${k}=${v}`);
      const recent = proxy.injected.slice(-12).map((r) => `${r.fault} ${r.method} ${r.path}`);
      (error as Error).message =
        `seed ${SEED} (rerun with CLOUDBRIDGE_TEST_SEED=${SEED}); faults ${faults.join(" ")}; the last ones:\n${recent.join("\n")}\n` +
        (error as Error).message;
      throw error;
    }
    const faults = Object.entries(proxy.counts).map(([k, v]) => `${k}=${v}`);
    process.stderr.write(`# seed ${SEED}: ${Math.round((Date.now() - started) / 1000)} s; ${faults.join(" ")}\n`);
  });

  async function scenario() {
    const begun = Date.now();
    const random = prng(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const env = agentEnv(t.cloud.env, { AWS_ENDPOINT_URL: proxy.endpoint });
    const direct = agentEnv(t.cloud.env);
    const url = "s3://cloudbridge/faults";
    const dirs = ["a", "b", "c"].map((n) => join(scratch.path, n));
    const gitEnv = (dir: string) => ({ ...process.env, GIT_DIR: join(dir, ".git") });
    const common = ["--topic-arn", t.cloud.topicArn, "--listen", "sqs"];
    await cliOk(["init", dirs[0]!, "--remote", url, ...common], env);
    await Promise.all(dirs.slice(1).map((dir) => cliOk(["clone", url, dir, ...common], env)));
    for (const dir of dirs) execFileSync("git", ["config", "cloudbridge.largefiles.minsize", String(MINSIZE)], { env: gitEnv(dir) });
    // A long reconcile interval: convergence must come from notifications and retries, not from a timer.
    await Promise.all(
      dirs.map(async (dir) => daemons.push(await startDaemon(dir, env, ["--debounce", "50", "--reconcile-interval", "600"]))),
    );

    /** A wait that timed out says what each daemon last complained of, and what it last did. */
    const withDaemonTrouble = (error: Error): never => {
      const problems = (d: Daemon) => d.events.filter((e) => e.level !== "info" && e.level !== "debug").slice(-12);
      const lastSaid = (d: Daemon) => d.events.slice(-3);
      error.message += `\n${daemons
        .map((d) => `${d.dir}:\n${[...problems(d), ...lastSaid(d)].map((e) => JSON.stringify(e)).join("\n")}`)
        .join("\n")}`;
      throw error;
    };
    const setUp = Date.now();
    const versions: Version[] = [];
    const unconfirmed = new Map<string, Version>();
    const unconfirmedKey = (dir: string, path: string) => `${dir}\0${path}`;
    let counter = 0;
    const odd = [
      (n: number) => `f${n}`,
      (n: number) => `with space ${n}`,
      (n: number) => `ünïcödé ${n} 日本`,
      (n: number) => `a+b ${n}`,
      (n: number) => `100% ${n}`,
      (n: number) => `%41%2F${n}`,
      (n: number) => `#${n} 'quoted'`,
      (n: number) => `-${n} leading dash`,
      // Names holding a newline or a carriage return are listed, not uploaded (e2e-every-path and
      // e2e-hostile-names test them); these are names every machine can hold.
    ];
    const fileName = (annexed: boolean) => `${pick(odd)(counter++)}.${annexed ? "bin" : "txt"}`;
    const dirName = () => pick([(n: number) => `d${n}`, (n: number) => `dir with space ${n}`, (n: number) => `dïr+${n}`])(counter++);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));

    // A version is overwritten, renamed or removed only once its own daemon has committed it (a person's
    // edit a millisecond later would lose it too); the others are never waited for: merges happen all along.
    const settle = async (dir: string) => {
      // No main yet in a folder that never committed.
      const { stdout } = await run("git", ["rev-list", "--objects", "main"], { env: gitEnv(dir), maxBuffer: 64 << 20 }).catch(() => ({
        stdout: "",
      }));
      const committed = new Set(stdout.split("\n").map((line) => line.slice(0, 40)));
      for (const [key, version] of unconfirmed) if (key.startsWith(`${dir}\0`) && committed.has(version.blob)) unconfirmed.delete(key);
    };
    const settled = (dir: string, path: string) => !unconfirmed.has(unconfirmedKey(dir, path));
    const confirm = (dir: string, path: string) =>
      waitUntil(
        async () => settled(dir, path) || (await settle(dir), settled(dir, path)),
        `${JSON.stringify(path)} committed in ${dir}`,
        60_000,
        50,
      ).catch(withDaemonTrouble);
    const write = async (dir: string, path: string, annexed: boolean) => {
      const content = annexed
        ? bytes(MINSIZE + Math.floor(random() * 4096))
        : Buffer.from(`${path} v${counter++} from ${dir.slice(-1)} ${bytes(4).toString("hex")}\n`);
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
      const version = versionOf(path, content, content.length >= MINSIZE);
      versions.push(version);
      unconfirmed.set(unconfirmedKey(dir, path), version);
    };

    for (let edit = 0; edit < EDITS; edit += 1) {
      const dir = pick(dirs);
      await settle(dir);
      const files = await listFiles(dir);
      const parents = [...new Set(files.map((f) => f.split("/").slice(0, -1).join("/")).filter(Boolean))];
      // Committed files first, so that edits rarely wait.
      const free = files.filter((f) => settled(dir, f));
      const freeParents = parents.filter((sub) => files.every((f) => !f.startsWith(`${sub}/`) || settled(dir, f)));
      const op =
        files.length < 4
          ? "create"
          : pick([
              "create",
              "create",
              "create",
              "modify",
              "modify",
              "delete",
              "rename",
              "rename",
              "mkdir",
              "mkdir",
              "move-dir",
              "remove-dir",
              "both",
            ] as const);
      const file = pick(free.length > 0 ? free : files);
      if (op !== "create" && op !== "mkdir" && !op.endsWith("-dir")) await confirm(dir, file);
      if (op === "create" || op === "mkdir" || parents.length === 0) {
        const where = op === "mkdir" ? dirName() : parents.length > 0 && random() < 0.3 ? pick(parents) : "";
        const annexed = random() < 0.25;
        const name = fileName(annexed);
        await write(dir, where ? `${where}/${name}` : name, annexed);
      } else if (op === "modify") {
        await write(dir, file, file.endsWith(".bin"));
      } else if (op === "both") {
        // The same file edited on two machines at once: both versions must survive the merge.
        const other = pick(dirs.filter((d) => d !== dir));
        if ((await lstat(join(other, file)).catch(() => undefined))?.isFile()) await confirm(other, file);
        const annexed = file.endsWith(".bin");
        await Promise.all([write(dir, file, annexed), write(other, file, annexed)]);
      } else if (op === "delete") {
        await rm(join(dir, file), { force: true });
      } else if (op === "rename") {
        const name = file.split("/").pop()!;
        const renamed = `r${counter++} ${name.replace(/^r\d+ /, "")}`;
        await rename(join(dir, file), join(dir, dirname(file), renamed)).catch(() => undefined);
      } else {
        const sub = pick(freeParents.length > 0 ? freeParents : parents);
        for (const f of files.filter((f) => f.startsWith(`${sub}/`))) await confirm(dir, f);
        if (op === "move-dir") await rename(join(dir, sub), join(dir, dirname(sub), `moved ${counter++}`)).catch(() => undefined);
        else await rm(join(dir, sub), { recursive: true, force: true });
      }
      await new Promise((resolve) => setTimeout(resolve, 30 + random() * 50));
    }
    // Every version written is committed where it was written (or a merge replaced it first: see below).
    await waitUntil(
      async () => {
        for (const dir of dirs) await settle(dir);
        return unconfirmed.size === 0;
      },
      "every version committed by its own daemon",
      60_000,
      200,
    ).catch(() => undefined);
    const editsDone = Date.now();

    // Quiet, faults still on: one head everywhere (bucket included), the same files with the same bytes.
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    const layout = new BucketLayout("");
    const heads = async () => {
      const bucket = await readSharedRefNow(store, layout, "faults", "refs/heads/main");
      const local = dirs.map((dir) =>
        execFileSync("git", ["rev-parse", "main"], { env: gitEnv(dir) })
          .toString()
          .trim(),
      );
      return { bucket, local };
    };
    let last = "";
    await waitUntil(
      async () => {
        const { bucket, local } = await heads();
        const snaps = await Promise.all(dirs.map((d) => snapshotBytes(d)));
        const describe = (b64: string | undefined) => {
          const body = b64 === undefined ? undefined : Buffer.from(b64, "base64");
          return !body
            ? "absent"
            : body.toString().startsWith("/annex/objects/")
              ? `pointer ${body.toString().trim()}`
              : `${body.length} bytes`;
        };
        const diff = differing(snaps).map((p) => `${JSON.stringify(p)}: ${snaps.map((s) => describe(s[p])).join(" | ")}`);
        last = `bucket ${bucket}, local ${local.join(" ")}; ${snaps.map((s) => Object.keys(s).length).join("/")} files; differing:\n${diff.join("\n")}`;
        return local.every((h) => h === bucket) && differing(snaps).length === 0 ? true : undefined;
      },
      "all three folders and the bucket to agree",
      90_000,
      500,
    ).catch((error: Error) => {
      error.message += `\nlast seen: ${last}`;
      return withDaemonTrouble(error);
    });
    const quiet = Date.now();
    // The repositories are checked at rest: `git fsck` reads packs and reflogs as plain files, and a daemon's
    // `gc --auto` deleting the packs it folded (or a ref update appending its reflog) under it reads as corruption.
    for (const d of daemons) assert.equal(await d.stop(), 0, `the daemon on ${d.dir} stops cleanly`);

    const final = await snapshotBytes(dirs[0]!);
    assert.ok(Object.keys(final).length > 0);
    assert.ok(
      !Object.values(final).some((b64) => Buffer.from(b64, "base64").toString().startsWith("/annex/objects/")),
      "every annexed file has its content",
    );
    for (const dir of dirs) {
      const onMain = new Set(
        execFileSync("git", ["rev-list", "--objects", "main"], { env: gitEnv(dir), maxBuffer: 64 << 20 })
          .toString()
          .split("\n")
          .map((line) => line.slice(0, 40)),
      );
      assert.deepEqual(
        versions.filter((v) => !onMain.has(v.blob)).map((v) => v.path),
        [],
        `every version written is in the history of main in ${dir}`,
      );
      execFileSync("git", ["fsck", "--strict", "--no-progress", "--no-dangling"], { env: gitEnv(dir), stdio: "pipe" });
      const fsck = await cli(["fsck"], direct, { cwd: dir });
      assert.equal(fsck.code, 0, `cloudbridge fsck in ${dir}:\n${fsck.stdout}${fsck.stderr}`);
    }
    for (const v of versions.filter((v) => v.key)) {
      assert.ok(
        await store.head(layout.annexObject("faults", v.key!)),
        `annexed content ${v.key} (${JSON.stringify(v.path)}) is in the cloud`,
      );
    }
    // The folder keeps the endpoint it was made with (the fault proxy), which outranks the environment: the
    // check of the cloud's copies is made directly, as the other checks are.
    execFileSync("git", ["config", "cloudbridge.endpoint", t.cloud.endpoint], { env: gitEnv(dirs[0]!) });
    const cloudFsck = await cli(["fsck", "--from", "cloud"], direct, { cwd: dirs[0]! });
    assert.equal(cloudFsck.code, 0, `cloudbridge fsck --from cloud:\n${cloudFsck.stdout}${cloudFsck.stderr}`);
    // The bucket's repository itself, read by plain git over dumb HTTP, is whole.
    const plain = join(scratch.path, "plain");
    await run("git", ["clone", "-q", `${t.cloud.endpoint}/${t.cloud.bucket}/repos/faults.git`, plain], { env: agentEnv({}) });
    await run("git", ["-C", plain, "fsck", "--strict", "--no-progress", "--no-dangling"], { env: agentEnv({}) });

    const variants = Object.keys(final).filter((p) => p.includes(".variant-"));
    process.stderr.write(
      `# ${versions.length} versions written (${versions.filter((v) => v.key).length} annexed), ${Object.keys(final).length} files at the end, ` +
        `${variants.length} variant files; set up ${secs(setUp - begun)} s, edits ${secs(editsDone - setUp)} s, quiet ${secs(quiet - editsDone)} s after the last edit, checks ${secs(Date.now() - quiet)} s\n`,
    );
  }
});

/** Every file under `root` (outside .git and the agent's temporary files), recursively. */
async function listFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, rel), { withFileTypes: true }).catch(() => [])) {
    if (entry.name === ".git" || entry.name.startsWith(".cloudbridge-")) continue;
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
    else out.push(path);
  }
  return out.sort();
}

async function snapshotBytes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of await listFiles(root)) {
    const info = await lstat(join(root, path)).catch(() => undefined);
    if (info?.isFile()) out[path] = (await readFile(join(root, path))).toString("base64");
  }
  return out;
}

function secs(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function differing(snaps: Array<Record<string, string>>): string[] {
  const paths = new Set(snaps.flatMap((s) => Object.keys(s)));
  return [...paths].filter((p) => !snaps.every((s) => s[p] === snaps[0]![p])).sort();
}
