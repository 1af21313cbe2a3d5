import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { TestCloud } from "../../helpers/local-cloud.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { GIT_ENV, makeAgentRepo, run, type AgentRepo } from "../../helpers/annex-repos.ts";
import { runCli, runWorker } from "../../helpers/annex-child.ts";

const execFileAsync = promisify(execFile);
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("interoperability with real git-annex (10.20230126), through the cloud", () => {
  let test: TestCloud;
  let root: string;
  let agent: AgentRepo;
  let user: string;
  let env: NodeJS.ProcessEnv;

  const bed = useAgentCloud("annex-interop");
  before(async () => {
    test = bed.t;
    root = bed.path("");
    agent = await makeAgentRepo(join(root, "agent"), test, "interop", "agent A");
    user = join(root, "user");
    // A git-annex user's shell: the cloud's credentials (git-annex's S3 remote reads them from the
    // environment) and git-remote-cloudbridge on PATH for the git transport.
    env = { ...process.env, ...test.cloud.env, ...GIT_ENV, PATH: `${resolve("bin")}:${process.env.PATH}` };
  });

  async function sh(cwd: string, command: string, ...args: string[]): Promise<string> {
    try {
      return (await execFileAsync(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${command} ${args.join(" ")} failed: ${e.stderr ?? ""}${e.stdout ?? ""}${e.message}`, { cause: error });
    }
  }

  it("git-annex clones the agent's repository, enables the cloud and gets what the agent uploaded", async () => {
    const small = randomBytes(300 * 1024);
    const large = randomBytes(18 * 1024 * 1024 + 3);
    writeFileSync(join(agent.dir, "report.pdf"), small);
    writeFileSync(join(agent.dir, "disk.iso"), large);
    for (const file of ["report.pdf", "disk.iso"]) {
      const added = await runWorker(test, ["add", agent.dir, file]);
      assert.equal(added.code, 0, added.stderr);
    }

    await sh(root, "git", "clone", "-q", `cloudbridge::s3://${test.cloud.bucket}/interop`, "user");
    await sh(user, "git", "annex", "init", "-q", "laptop of a git-annex user");
    await sh(user, "git", "config", "annex.security.allowed-ip-addresses", "127.0.0.1");
    await sh(user, "git", "annex", "enableremote", "cloud");
    await sh(user, "git", "annex", "get", "report.pdf", "disk.iso");
    assert.equal(sha256(readFileSync(join(user, "report.pdf"))), sha256(small));
    assert.equal(sha256(readFileSync(join(user, "disk.iso"))), sha256(large), "a multipart object reads back through git-annex");
    const whereis = await sh(user, "git", "annex", "whereis", "report.pdf");
    assert.match(whereis, /\(3 copies\)/);
    assert.match(whereis, /agent A/);
    assert.match(whereis, /\[cloud\]/);
    const fsck = await sh(user, "git", "annex", "fsck", "--from", "cloud", "--fast", "report.pdf", "disk.iso");
    assert.match(fsck, /fsck report\.pdf .*ok/s);
  });

  it("the agent gets what git-annex uploaded with `git annex copy --to cloud`, locked and unlocked", async () => {
    const photo = randomBytes(200 * 1024);
    const video = randomBytes(7 * 1024 * 1024);
    writeFileSync(join(user, "photo.jpg"), photo);
    writeFileSync(join(user, "video.mp4"), video);
    await sh(user, "git", "annex", "add", "photo.jpg");
    await sh(user, "git", "-c", "annex.addunlocked=true", "annex", "add", "video.mp4");
    await sh(user, "git", "commit", "-q", "-m", "from git-annex");
    await sh(user, "git", "annex", "copy", "--to", "cloud", "photo.jpg", "video.mp4");
    await sh(user, "git", "push", "-q", "origin", "main", "git-annex");

    await agent.sync();
    run(agent.dir, "git", ["merge", "-q", "--ff-only", "refs/remotes/cloud/main"]);
    assert.ok(lstatSync(join(agent.dir, "photo.jpg")).isSymbolicLink(), "a locked file is a symlink into .git/annex/objects");
    const got = await runCli(test, agent.dir, ["get", "photo.jpg", "video.mp4"]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(sha256(readFileSync(join(agent.dir, "photo.jpg"))), sha256(photo), "the symlink resolves to the verified content");
    assert.equal(sha256(readFileSync(join(agent.dir, "video.mp4"))), sha256(video), "the unlocked pointer was replaced by the content");
    const where = await runCli(test, agent.dir, ["whereis", "--json", "photo.jpg"]);
    assert.equal(where.code, 0, where.stderr);
    const record = JSON.parse(where.stdout) as { whereis: Array<{ description: string; here: boolean }> };
    assert.deepEqual(record.whereis.map((l) => l.description).sort(), ["agent A", "cloud", "laptop of a git-annex user"]);

    // And git-annex sees the agent's new copy once the agent's git-annex branch is pushed (get does that).
    await sh(user, "git", "fetch", "-q", "origin");
    const userView = await sh(user, "git", "annex", "whereis", "photo.jpg");
    assert.match(userView, /\(3 copies\)/);
    assert.match(userView, /agent A/);
  });
});
