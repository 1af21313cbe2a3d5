/**
 * One pushing process for the concurrency tests: pushes `oid` to refs/heads/main of `repo` from the
 * repository at `gitDir`, merging on conflict, and prints the push outcome as JSON. The cloud comes from
 * the standard AWS environment (AWS_ENDPOINT_URL, credentials), as for any agent; an encrypted repository is
 * read through the identity in CLOUDBRIDGE_IDENTITY.
 */
import { repositoryStore } from "../../objectstore/index.ts";
import { createS3Client, S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import { push, treeMergeCallback } from "../../gitstore/index.ts";

const [bucket, repo, gitDir, agent, oid] = process.argv.slice(2) as [string, string, string, string, string];
const client = createS3Client();
const layout = new BucketLayout();
const outcome = await push({
  store: await repositoryStore(new S3ObjectStore(bucket, client), layout, repo),
  layout,
  repo,
  gitDir,
  agent,
  updates: [{ ref: "refs/heads/main", oid, onConflict: treeMergeCallback(gitDir) }],
  maxAttempts: 30,
});
client.destroy();
process.stdout.write(`${JSON.stringify(outcome)}\n`);
