import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { agentEnv, cliOk } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

const run = promisify(execFile);

/**
 * Real git-annex (10.20230126) and an encrypted repository (docs/encryption.md): through the remote helper
 * it sees a plaintext repository — the files, the git-annex branch, where each copy is — but it is not
 * offered the cloud as a special remote, because its S3 remote cannot read sealed objects and would write
 * content there in clear.
 */
describe("real git-annex and an encrypted repository", () => {
  const bed = useAgentCloud("git-annex-encrypted");

  it("sees the plaintext repository through the helper and cannot enable the cloud remote (so never writes to it in clear)", async () => {
    const identity = bed.path("identity");
    const A = bed.path("a");
    await mkdir(A);
    await writeFile(join(A, "notes.txt"), "plain words\n");
    await writeFile(join(A, "film.bin"), randomBytes(3 * 1024 * 1024));
    await cliOk(
      ["init", A, "--remote", "s3://cloudbridge/vault", "--encrypt"],
      agentEnv(bed.t.cloud.env, { CLOUDBRIDGE_IDENTITY: identity }),
    );

    const env = {
      ...agentEnv(bed.t.cloud.env, { CLOUDBRIDGE_IDENTITY: identity, HOME: bed.path("") }),
      PATH: `${resolve("bin")}:${process.env.PATH}`,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t",
    };
    const G = bed.path("g");
    const sh = async (cwd: string, ...args: string[]) =>
      run(args[0]!, args.slice(1), { cwd, env }).then(
        ({ stdout, stderr }) => ({ code: 0, out: `${stdout}${stderr}` }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: `${error.stdout}${error.stderr}` }),
      );
    assert.equal((await sh(bed.path(""), "git", "clone", "-q", "cloudbridge::s3://cloudbridge/vault", G)).code, 0);
    assert.equal(await readFile(join(G, "notes.txt"), "utf8"), "plain words\n");
    assert.equal((await sh(G, "git", "annex", "init", "plain git-annex")).code, 0);
    const whereis = await sh(G, "git", "annex", "whereis", "film.bin");
    assert.equal(whereis.code, 0, whereis.out);
    assert.match(whereis.out, /\(2 copies\)[\s\S]*-- cloud/);
    const enable = await sh(G, "git", "annex", "enableremote", "cloud");
    assert.notEqual(enable.code, 0);
    assert.match(enable.out, /No special remotes are currently known|Unknown remote name/);
  });
});
