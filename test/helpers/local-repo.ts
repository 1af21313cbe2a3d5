import { LocalRepo } from "../../agent/sync/local-repo.ts";
import type { CommitIdentity } from "../../localgit/index.ts";

/** The identity the agent's commits carry in tests. */
export const TEST_IDENTITY: CommitIdentity = { name: "t", email: "t@test" };

/** A new folder at `dir` with the agent's repository in it, opened as every sync and daemon start opens it. */
export async function newLocalRepo(dir: string, identity: CommitIdentity = TEST_IDENTITY): Promise<LocalRepo> {
  await LocalRepo.create(dir);
  return openLocalRepo(dir, identity);
}

/** The folder at `dir` opened again, as the next sync or daemon start opens it. */
export function openLocalRepo(dir: string, identity: CommitIdentity = TEST_IDENTITY): Promise<LocalRepo> {
  return new LocalRepo(dir, identity).open();
}
