import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { agentEnv, cli, cliOk, startDaemon, waitUntil, type CliResult } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { git, tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { startProsody } from "../../helpers/prosody.ts";

/**
 * What a person can trust, through the real CLI and daemon against the local cloud: `status` tells the
 * truth (commits not in the cloud, a listener that does not work, the local part even when the bucket
 * cannot be reached), each setup failure is one line saying what to do with its documented exit code,
 * content a machine still needs is not dropped from the cloud and can be put back, and `init` never takes
 * over a git repository's history without being told to.
 */
describe("cloudbridge a person can trust", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let env: Record<string, string>;
  let store: S3ObjectStore;
  /** The environment of a new shell: no AWS settings at all. */
  const bareEnv = () =>
    agentEnv({}, { AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/dev/null", AWS_SHARED_CREDENTIALS_FILE: "/dev/null" });
  before(async () => {
    scratch = await tempDir("trust");
    t = await startTestCloud();
    env = agentEnv(t.cloud.env);
    store = new S3ObjectStore(t.cloud.bucket, t.s3);
  });
  after(async () => {
    await t.stop();
    await scratch.remove();
  });

  async function bucketKeys(prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    for await (const info of store.list(prefix)) keys.push(info.key);
    return keys.sort();
  }

  /** The one `cloudbridge: …` line a failure printed (progress lines aside). */
  function errorLine(result: CliResult): string {
    const lines = result.stderr.split("\n").filter((line) => line.startsWith("cloudbridge: "));
    assert.equal(lines.length, 1, `one error line, got:\n${result.stderr}`);
    return lines[0]!;
  }

  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it("status shows a commit not in the cloud, the local part when the bucket is unreachable, and a listener that failed", async () => {
    const A = join(scratch.path, "status-a");
    await mkdir(A);
    await writeFile(join(A, "a.txt"), "a\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/status"], env);

    // The bucket out of reach: the round commits, then cannot push.
    const dead = `http://127.0.0.1:${await closedPort()}`;
    await git(A, "config", "cloudbridge.endpoint", dead);
    await writeFile(join(A, "b.txt"), "b\n");
    const failed = await cli(["sync", A], env);
    const offline = await cli(["status", A, "--json"], env);
    assert.equal(offline.code, 1, "the exit code of the failure met");
    assert.match(errorLine(offline), /Cannot reach the S3 endpoint/);
    const local = JSON.parse(offline.stdout) as {
      unpushed: { commits: number; as: string };
      localChanges: unknown[];
      cloud: { reachable: boolean; code: string };
    };
    assert.deepEqual(local.unpushed.commits, 1);
    assert.equal(local.unpushed.as, "last-seen");
    assert.deepEqual(local.localChanges, []);
    assert.deepEqual({ reachable: local.cloud.reachable, code: local.cloud.code }, { reachable: false, code: "endpoint-unreachable" });
    const human = await cli(["status", A], env);
    assert.match(human.stdout, /^1 commit\(s\) not in the cloud yet/m);
    assert.match(human.stdout, /no local changes waiting/);
    assert.match(human.stdout, /cloud: NOT REACHED — Cannot reach the S3 endpoint/);
    assert.equal(failed.code, 1);
    assert.match(errorLine(failed), /Cannot reach the S3 endpoint 127\.0\.0\.1:\d+ \(ECONNREFUSED\).*cloudbridge local/);

    await git(A, "config", "cloudbridge.endpoint", t.cloud.endpoint);
    const online = JSON.parse((await cliOk(["status", A, "--json"], env)).stdout) as {
      unpushed: { commits: number; as: string };
      cloud: { reachable: boolean };
    };
    assert.deepEqual(online.unpushed, { ...online.unpushed, commits: 1, as: "read-now" });
    assert.equal(online.cloud.reachable, true);

    // A daemon told to listen by XMPP where no server runs: not "listening", and polling instead.
    await git(A, "config", "cloudbridge.xmppService", `xmpp://127.0.0.1:${await closedPort()}`);
    await git(A, "config", "cloudbridge.xmppJid", "alice@localhost");
    const daemon = await startDaemon(A, { ...env, CLOUDBRIDGE_XMPP_PASSWORD: "pw" }, ["--listen", "xmpp"]);
    try {
      const status = JSON.parse((await cliOk(["status", A, "--json"], env)).stdout) as {
        unpushed: { commits: number };
        daemon: { running: boolean; listener: { configured: string; active: string; state: string; error: string } };
      };
      assert.equal(status.unpushed.commits, 0, "the daemon's first round pushed it");
      assert.equal(status.daemon.running, true);
      assert.deepEqual(
        { ...status.daemon.listener, error: "" },
        { ...status.daemon.listener, configured: "xmpp", active: "poll", state: "failed", error: "" },
      );
      assert.match(status.daemon.listener.error, /ECONNREFUSED/);
      const text = (await cliOk(["status", A], env)).stdout;
      assert.match(text, /xmpp listener FAILED \(.*ECONNREFUSED.*\); polling instead/);
      assert.doesNotMatch(text, /listening by xmpp/);
      assert.match(text, /last round: .*, ok/);
    } finally {
      await daemon.stop();
    }
  });

  it("an XMPP server that goes down is said once, shown by status, and its return is said once", async () => {
    const prosody = await startProsody();
    try {
      const jid = await prosody.register("carol", "carol-pw");
      const C = join(scratch.path, "xmpp-c");
      await mkdir(C);
      await cliOk(["init", C, "--remote", "s3://cloudbridge/xmppdown", "--xmpp-service", prosody.service, "--xmpp-jid", jid], env);
      const daemon = await startDaemon(C, { ...env, CLOUDBRIDGE_XMPP_PASSWORD: "carol-pw" }, ["--listen", "xmpp"]);
      try {
        const listening = () => daemon.events.filter((e) => e.event === "listen.state" && e.state === "listening").length;
        await waitUntil(() => listening() === 1, "the listener working");
        const before = daemon.events.length;
        await prosody.stop();
        // Reconnection attempts go on meanwhile (each used to log a warning: one a second).
        await new Promise((resolve) => setTimeout(resolve, 6000));
        const said = daemon.events.slice(before).filter((e) => e.level === "warn" || e.level === "error");
        assert.deepEqual(
          said.map((e) => [e.event, e.state]),
          [["listen.state", "down"]],
          `said once:\n${said.map((e) => JSON.stringify(e)).join("\n")}`,
        );
        const status = JSON.parse((await cliOk(["status", C, "--json"], env)).stdout) as { daemon: { listener: { state: string } } };
        assert.equal(status.daemon.listener.state, "down");
        assert.match((await cliOk(["status", C], env)).stdout, /xmpp listener DOWN since .*retrying/);
        await prosody.start();
        await waitUntil(() => listening() === 2, "the listener working again", 30_000);
      } finally {
        await daemon.stop();
      }
    } finally {
      await prosody.destroy();
    }
  });

  it("each setup failure is one line saying what to do, with its exit code; status still prints the local part", async () => {
    const noRegion = await cli(["init", join(scratch.path, "setup-1"), "--remote", "s3://cloudbridge/setup"], bareEnv());
    assert.equal(noRegion.code, 2);
    assert.match(errorLine(noRegion), /No AWS region is set: .*git config cloudbridge\.region.*AWS_REGION/);
    assert.equal(await exists(join(scratch.path, "setup-1")), false, "nothing was created");

    const noCredentials = await cli(["init", join(scratch.path, "setup-2"), "--remote", "s3://cloudbridge/setup"], {
      ...bareEnv(),
      AWS_REGION: "eu-west-1",
    });
    assert.equal(noCredentials.code, 2);
    assert.match(errorLine(noCredentials), /No AWS credentials were found: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);

    const noBucket = await cli(["init", join(scratch.path, "setup-3"), "--remote", "s3://nosuchbucket/setup"], env);
    assert.equal(noBucket.code, 2);
    assert.match(errorLine(noBucket), /The bucket "nosuchbucket" does not exist.*create it/);
    assert.equal(await exists(join(scratch.path, "setup-3")), false, "nothing was created");

    const unreachable = await cli(["clone", "s3://cloudbridge/setup", join(scratch.path, "setup-4")], {
      ...env,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    assert.equal(unreachable.code, 1);
    assert.match(errorLine(unreachable), /Cannot reach the S3 endpoint/);

    // Something else than S3 at the endpoint (a web server): said as such, not as a missing repository.
    const web = createHttpServer((_request, response) => response.writeHead(404, { "content-type": "text/html" }).end("<html>no</html>"));
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    try {
      const notS3 = await cli(["clone", "s3://cloudbridge/setup", join(scratch.path, "setup-5")], {
        ...env,
        AWS_ENDPOINT_URL: `http://127.0.0.1:${(web.address() as AddressInfo).port}`,
      });
      assert.equal(notS3.code, 2);
      assert.match(errorLine(notS3), /answered, but not as S3 does.*check that cloudbridge\.endpoint/);
      // https:// where the server speaks plain HTTP (the local cloud's own URL, with an s too many).
      const noTls = await cli(
        ["clone", "s3://cloudbridge/setup", join(scratch.path, "setup-7"), "--endpoint", t.cloud.endpoint.replace("http:", "https:")],
        env,
      );
      assert.equal(noTls.code, 2);
      assert.match(errorLine(noTls), /not as S3 does \(EPROTO: no TLS there; is it an http:\/\/ endpoint\?\)/);
    } finally {
      web.close();
    }

    // The folder keeps endpoint and region: a new shell with no AWS settings uses it (the demo's own hint).
    const A = join(scratch.path, "setup-a");
    await mkdir(A);
    await writeFile(join(A, "a.txt"), "a\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/setup"], env);
    const fresh = await cli(["status", A], bareEnv());
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /every commit is in the cloud/);

    // The bucket is in another region than the one given: S3 says where (a HEAD's bare 400 as well), and so does every command.
    const elsewhere = await cli(["clone", "s3://cloudbridge/setup", join(scratch.path, "setup-6"), "--region", "eu-west-1"], env);
    assert.equal(elsewhere.code, 2);
    assert.match(
      errorLine(elsewhere),
      /The bucket "cloudbridge" is in the region us-east-1 .*`git config cloudbridge\.region us-east-1`.*--region us-east-1/,
    );
    assert.equal(await exists(join(scratch.path, "setup-6")), false, "nothing was created");
    await git(A, "config", "cloudbridge.region", "eu-west-1");
    const syncElsewhere = await cli(["sync", A], env);
    assert.equal(syncElsewhere.code, 2);
    assert.match(errorLine(syncElsewhere), /is in the region us-east-1 .*git config cloudbridge\.region us-east-1/);
    await git(A, "config", "cloudbridge.region", "us-east-1");

    // A folder with no region anywhere (AWS itself, no AWS_REGION): the local part, then the advice.
    await git(A, "config", "--unset", "cloudbridge.endpoint");
    await git(A, "config", "--unset", "cloudbridge.region");
    const degraded = await cli(["status", A], bareEnv());
    assert.equal(degraded.code, 2);
    assert.match(errorLine(degraded), /No AWS region is set/);
    assert.match(degraded.stdout, /no local changes waiting/);
    assert.match(degraded.stdout, /every commit is in the cloud \(.*as last seen\)/);
    const sync = await cli(["sync", A], { ...bareEnv(), AWS_REGION: "us-east-1" });
    assert.equal(sync.code, 2);
    assert.match(errorLine(sync), /No AWS credentials were found/);
  });

  it("drop --from cloud refuses content a clone still wants; the next full round or copy --to cloud puts it back", async () => {
    const A = join(scratch.path, "drop-a");
    await mkdir(A);
    const content = randomBytes(1536 * 1024); // above the default largefiles size: annexed
    await writeFile(join(A, "big.bin"), content);
    await cliOk(["init", A, "--remote", "s3://cloudbridge/stranded"], env);
    const [object] = (await bucketKeys("annex/stranded/")).filter((k) => !k.endsWith("annex-uuid"));
    assert.ok(object, "the content is in the cloud");

    // B joins while the object is away (a person moved it in the console): B wants it and cannot get it.
    const saved = await store.get(object);
    assert.ok(saved && saved !== "not-modified");
    await store.delete(object);
    const B = join(scratch.path, "drop-b");
    const cloned = await cli(["clone", "s3://cloudbridge/stranded", B], env);
    assert.match(cloned.stdout, /1 download\(s\) still queued/, cloned.stdout + cloned.stderr);
    await store.put(object, saved.body);

    const refused = await cli(["drop", "--from", "cloud", "big.bin"], env, { cwd: A });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /drop big\.bin: refused: Refusing to drop the cloud's copy of .*: .*drop-b.* wants it and does not have it/,
    );
    assert.ok((await store.head(object)) !== undefined, "the cloud still has it");

    const forced = await cliOk(["drop", "--from", "cloud", "big.bin", "--force"], env, { cwd: A });
    assert.match(forced.stdout, /drop from cloud big\.bin: ok/);
    assert.equal(await store.head(object), undefined);
    // A full round of a machine that has it uploads it again: B still needs it.
    await cliOk(["sync", A], env);
    assert.ok((await store.head(object)) !== undefined, "the full round put it back");

    await cliOk(["drop", "--from", "cloud", "big.bin", "--force", "--dir", A], env);
    assert.equal(await store.head(object), undefined);
    const copied = await cliOk(["copy", "--to", "cloud", "big.bin", "--dir", A], env);
    assert.match(copied.stdout + copied.stderr, /copy big\.bin \(to cloud\): ok/);
    assert.ok((await store.head(object)) !== undefined, "copy --to cloud put it back");

    await cliOk(["sync", B], env);
    assert.deepEqual(await readFile(join(B, "big.bin")), content);
    const where = await cliOk(["whereis", "--dir", B], env);
    assert.match(where.stdout, /whereis big\.bin \(3 copies\)[^]*-- cloud \[cloud\][^]*drop-b \[here\]/);
  });

  it("init on a git repository with history changes nothing without a choice; --adopt-history uploads it", async () => {
    const G = join(scratch.path, "existing");
    await mkdir(G);
    await git(G, "init", "-q", "-b", "master");
    await writeFile(join(G, "one.txt"), "1\n");
    await git(G, "add", "one.txt");
    await git(G, "commit", "-qm", "one");
    await writeFile(join(G, "two.txt"), "2\n");
    await git(G, "add", "two.txt");
    await git(G, "commit", "-qm", "two");
    await writeFile(join(G, "staged.txt"), "s\n");
    await git(G, "add", "staged.txt");
    const look = async () => ({
      refs: await git(G, "for-each-ref", "--format=%(refname) %(objectname)"),
      head: await git(G, "symbolic-ref", "HEAD"),
      index: (await readFile(join(G, ".git", "index"))).toString("base64"),
      config: await git(G, "config", "--local", "--list"),
      state: await exists(join(G, ".git", "cloudbridge")),
      bucket: await bucketKeys(),
    });
    const before = await look();
    const refused = await cli(["init", G, "--remote", "s3://cloudbridge/existing"], env);
    assert.equal(refused.code, 2);
    assert.match(
      errorLine(refused),
      /is a git repository with history of its own .*nothing was changed\. Choose: .*--adopt-history.*--new-history/,
    );
    assert.deepEqual(await look(), before, "refs, HEAD, index, config and the bucket are as they were");

    const master = await git(G, "rev-parse", "master");
    await cliOk(["init", G, "--remote", "s3://cloudbridge/existing", "--adopt-history"], env);
    const main = await git(G, "rev-parse", "main");
    await git(G, "merge-base", "--is-ancestor", master, main); // throws if the history was not kept
    const clone = join(scratch.path, "existing-clone");
    await cliOk(["clone", "s3://cloudbridge/existing", clone], env);
    assert.match(await git(clone, "log", "--format=%s", "main"), /^one$/m, "the adopted history travelled");
    assert.equal(await readFile(join(clone, "staged.txt"), "utf8"), "s\n");
  });

  it("clone joins a folder that already has files: a different version becomes a variant, nothing is lost", async () => {
    const A = join(scratch.path, "join-a");
    await mkdir(A);
    await writeFile(join(A, "notes.txt"), "from a\n");
    await writeFile(join(A, "same.txt"), "same\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/joining"], env);
    const B = join(scratch.path, "join-b");
    await mkdir(B);
    await writeFile(join(B, "notes.txt"), "from b\n");
    await writeFile(join(B, "same.txt"), "same\n");
    await writeFile(join(B, "only-b.txt"), "b\n");
    await cliOk(["clone", "s3://cloudbridge/joining", B], env);
    const variants = (await readdir(B)).filter((name) => /^notes\.variant-[0-9a-f]{4}\.txt$/.test(name));
    assert.equal(variants.length, 1, `one variant in ${(await readdir(B)).join(", ")}`);
    assert.equal(await readFile(join(B, "notes.txt"), "utf8"), "from a\n");
    assert.equal(await readFile(join(B, variants[0]!), "utf8"), "from b\n");
    await cliOk(["sync", A], env);
    assert.equal(await readFile(join(A, variants[0]!), "utf8"), "from b\n", "the variant travelled");
    assert.equal(await readFile(join(A, "only-b.txt"), "utf8"), "b\n");
    assert.equal(await readFile(join(A, "same.txt"), "utf8"), "same\n");
    assert.equal((await readdir(A)).filter((name) => name.includes("variant")).length, 1, "identical files made no variant");
  });

  it("commands in a subfolder use the folder around it; init there is refused; whereis answers for small files; status lists what it does not sync", async () => {
    const A = join(scratch.path, "nested-a");
    await mkdir(join(A, "sub"), { recursive: true });
    await writeFile(join(A, "sub", "note.txt"), "n\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/nested"], env);
    const inside = await cli(["status", "--json"], env, { cwd: join(A, "sub") });
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal((JSON.parse(inside.stdout) as { folder: string }).folder, A);
    const nested = await cli(["init", join(A, "sub"), "--remote", "s3://cloudbridge/nested2"], env);
    assert.equal(nested.code, 2);
    assert.match(errorLine(nested), /is inside the cloudbridge folder .*nested-a, which syncs it already/);
    assert.equal(await exists(join(A, "sub", ".git")), false);
    const where = await cliOk(["whereis", "note.txt", "--dir", join(A, "sub")], env);
    assert.match(where.stdout, /whereis sub\/note\.txt: in git, on every machine/);

    // A path the folder does not sync is listed by status, with its reason.
    await symlink("/etc/hostname", join(A, "outward"));
    const status = JSON.parse((await cliOk(["status", A, "--json"], env)).stdout) as { refused: Array<{ path: string; kind: string }> };
    assert.deepEqual(
      status.refused.map((r) => [r.path, r.kind]),
      [["outward", "not-uploaded"]],
    );
    assert.match((await cliOk(["status", A], env)).stdout, /NOT UPLOADED "outward": .*outside/);

    // The page commands find the folder the same way, also from inside a git project kept in the folder.
    const project = join(A, "sub", "project");
    await mkdir(project);
    await git(project, "init", "-q");
    for (const args of [["pause"], ["resume"], ["limit"], ["conflicts"]]) {
      const inProject = await cli([...args, "--json"], env, { cwd: project });
      assert.equal(inProject.code, 0, `${args[0]}: ${inProject.stderr}`);
      if (args[0] !== "conflicts") assert.equal((JSON.parse(inProject.stdout) as { folder: string }).folder, A, args[0]);
    }
    // So do service, remove-queue and key (they took "." before).
    const unit = await cliOk(["service", "show"], env, { cwd: project });
    assert.match(unit.stdout, new RegExp(`daemon ${A.replaceAll("/", "\\/")}\\n`), unit.stdout);
    const { agent } = JSON.parse((await cliOk(["status", A, "--json", "--offline"], env)).stdout) as { agent: string };
    const queue = JSON.parse((await cliOk(["remove-queue", "--json"], env, { cwd: project })).stdout) as { queue: string };
    assert.equal(queue.queue, `cloudbridge-agent-${agent}`);
    const keys = await cli(["key", "list"], env, { cwd: project });
    assert.match(keys.stderr, /s3:\/\/cloudbridge\/nested\b/, "the folder's repository, found from the project");
    const page = await cli(["open", "--print"], env, { cwd: project });
    assert.match(page.stderr, new RegExp(`no daemon serves a page for ${A.replaceAll("/", "\\/")}`));
    await writeFile(join(project, "readme.txt"), "r\n");
    assert.equal((await cli(["sync", A], env)).code, 3, "the project's .git is listed as not synced; its files are");
    const versions = JSON.parse((await cliOk(["versions", "readme.txt", "--json"], env, { cwd: project })).stdout) as { path: string };
    assert.equal(versions.path, "sub/project/readme.txt");
  });

  it("plain git status in a synced folder is clean for annexed files, and shows them modified once they change", async () => {
    const A = join(scratch.path, "gitstatus-a");
    await mkdir(A);
    await writeFile(join(A, "video.mp4"), randomBytes(1536 * 1024)); // annexed (above the default largefiles size)
    await writeFile(join(A, "notes.txt"), "notes\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/gitstatus"], env);
    assert.match(await git(A, "cat-file", "-p", ":video.mp4"), /^\/annex\/objects\/SHA256E-/, "the index holds its pointer");
    assert.equal(await git(A, "status", "--porcelain"), "");
    const B = join(scratch.path, "gitstatus-b");
    await cliOk(["clone", "s3://cloudbridge/gitstatus", B], env);
    assert.equal((await stat(join(B, "video.mp4"))).size, 1536 * 1024, "the content arrived");
    assert.equal(await git(B, "status", "--porcelain"), "", "the clone's annexed file is not modified either");

    await appendFile(join(B, "video.mp4"), "more");
    assert.equal(await git(B, "status", "--porcelain"), "M video.mp4");
    await cliOk(["sync", B], env);
    assert.equal(await git(B, "status", "--porcelain"), "", "committed by the agent: clean again");
    // git status recorded the files' stat information; a round that does not change them keeps it, so the
    // next git status does not read them again.
    await writeFile(join(B, "other.txt"), "other\n");
    await cliOk(["sync", B], env);
    assert.doesNotMatch(await git(B, "ls-files", "--debug", "video.mp4"), /mtime: 0:0/);

    // A folder made before the filter existed gets it at its next open.
    await git(A, "config", "--unset", "filter.cloudbridge.process");
    await rm(join(A, ".git", "info", "attributes"));
    await cliOk(["sync", A], env);
    assert.equal(await git(A, "status", "--porcelain"), "");
  });

  it("status shows a running upload with its bytes done and total while it is in flight (held slow by the upload limit)", async () => {
    const A = join(scratch.path, "progress-a");
    await mkdir(A);
    await writeFile(join(A, "a.txt"), "a\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/progress"], env);
    // A 20 MiB file goes up in 5 MiB parts (multipart above 16 MiB), each counted once sent; at 512 KiB/s a
    // part takes 10 s, so the daemon is seen mid-upload, and moving, whatever the machine's load. `status`
    // does not wait for the round that holds the folder meanwhile.
    await cliOk(["limit", A, "--up", "512KiB"], env);
    const daemon = await startDaemon(A, env, ["--listen", "poll", "--poll-interval", "60"]);
    try {
      const size = 20 * 1024 * 1024;
      await writeFile(join(A, "video.mp4"), randomBytes(size));
      type Running = { direction: string; path: string; done: number; total: number };
      const midway = async () => {
        const status = JSON.parse((await cliOk(["status", A, "--json"], env)).stdout) as { transfers: { running: Running[] } };
        const upload = status.transfers.running.find((t) => t.path === "video.mp4");
        return upload && upload.done > 0 && upload.done < upload.total ? upload : undefined;
      };
      const first = await waitUntil(midway, "status --json to show the upload under way", 60_000, 200);
      assert.deepEqual({ ...first, done: 0 }, { ...first, direction: "up", total: size, done: 0 });
      const human = await waitUntil(
        async () => {
          const text = (await cliOk(["status", A], env)).stdout;
          return /^ {2}uploading video\.mp4: [\d.]+ MiB of 20\.0 MiB \((\d+) %\)$/m.exec(text) ?? undefined;
        },
        "status to show the upload under way",
        30_000,
        200,
      );
      assert.ok(Number(human[1]) > 0 && Number(human[1]) < 100, human[0]);
      const later = await waitUntil(
        async () => {
          const now = await midway();
          return now && now.done > first.done ? now : undefined;
        },
        "the upload's bytes done to grow",
        60_000,
        200,
      );
      assert.ok(later.done < size);
    } finally {
      await daemon.stop();
    }
  });
});
