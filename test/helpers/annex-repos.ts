import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import { Annex, AnnexBranch, ensureCloudUuid, recordCloudRemote, recordRepository, type CloudContent } from "../../annex/index.ts";
import { publishAnnexBranch, receiveAnnexBranch } from "../../agent/sync/cloud-branch-sync.ts";
import { startTestCloud, type TestCloud } from "./local-cloud.ts";

export const GIT_ENV = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.com",
};

export function run(cwd: string, command: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(command, args, {
    cwd,
    env: { ...process.env, ...GIT_ENV, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function cloudContent(test: TestCloud, repo: string): CloudContent {
  return { store: new S3ObjectStore(test.cloud.bucket, test.s3), layout: new BucketLayout(), repo };
}

export interface AgentRepo {
  dir: string;
  gitDir: string;
  uuid: string;
  annex: Annex;
  /** Fetches and merges the shared git-annex branch, as the agent does when a peer announces a change. */
  sync(): Promise<void>;
}

/**
 * A repository as an agent sets it up: git, an annex.uuid, cloudbridge.* settings, the cloud recorded as a
 * special remote, and the git-annex branch pushed to the bucket (git over S3) after every change.
 */
export async function makeAgentRepo(dir: string, test: TestCloud, repo: string, name: string): Promise<AgentRepo> {
  mkdirSync(dir, { recursive: true });
  run(dir, "git", ["init", "--quiet", "-b", "main"]);
  const uuid = randomUUID();
  const gitDir = join(dir, ".git");
  for (const [k, v] of Object.entries({
    "annex.uuid": uuid,
    "cloudbridge.region": test.cloud.region,
    "cloudbridge.bucket": test.cloud.bucket,
    "cloudbridge.repo": repo,
    "cloudbridge.endpoint": test.cloud.endpoint,
    "user.name": "test",
    "user.email": "test@example.com",
  })) {
    run(dir, "git", ["config", k, v]);
  }
  const cloud = cloudContent(test, repo);
  const cloudUuid = await ensureCloudUuid(cloud);
  run(dir, "git", ["config", "cloudbridge.cloudUuid", cloudUuid]);
  const branch = new AnnexBranch(gitDir);
  await recordRepository(branch, uuid, name);
  await recordCloudRemote(branch, cloudUuid, {
    bucket: test.cloud.bucket,
    fileprefix: cloud.layout.annexRoot(repo),
    endpoint: test.cloud.endpoint,
    region: test.cloud.region,
  });
  const ctx = { store: cloud.store, layout: cloud.layout, repo, gitDir, agent: uuid };
  const annex = new Annex({ gitDir, uuid, cloud, cloudUuid, publish: () => publishAnnexBranch(ctx) });
  await receiveAnnexBranch(ctx);
  await publishAnnexBranch(ctx);
  return { dir, gitDir, uuid, annex, sync: () => receiveAnnexBranch(ctx) };
}

/** The usual setup of an annex test: a local cloud and two agents, A and B, syncing repository `repo`. */
export interface AgentPair {
  test: TestCloud;
  root: string;
  a: AgentRepo;
  b: AgentRepo;
  stop(): Promise<void>;
}

export async function startAgentPair(repo: string): Promise<AgentPair> {
  const test = await startTestCloud();
  const root = mkdtempSync(join(tmpdir(), `annex-${repo}-`));
  const a = await makeAgentRepo(join(root, "a"), test, repo, "agent A");
  const b = await makeAgentRepo(join(root, "b"), test, repo, "agent B");
  return {
    test,
    root,
    a,
    b,
    stop: async () => {
      await test.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
