import { BucketLayout, parseRemoteUrl } from "../../../protocol/index.ts";
import { compactRepository, NativeGitEngine } from "../../../gitstore/index.ts";
import { repositoryStore } from "../../../objectstore/index.ts";
import { findRepository, FolderError, readCloudSettings, storeFor, type CloudSettings } from "../../folder/index.ts";
import { CliError } from "../errors.ts";

interface CompactOptions {
  grace: string;
  minPacks: string;
  engine: string;
  json?: boolean;
}

export async function compactCommand(url: string | undefined, options: CompactOptions): Promise<void> {
  const graceMinutes = Number(options.grace);
  const minPacks = Number(options.minPacks);
  if (!Number.isFinite(graceMinutes) || graceMinutes < 0)
    throw new CliError("invalid-option", `--grace ${JSON.stringify(options.grace)} is not a number of minutes.`);
  if (!Number.isInteger(minPacks) || minPacks < 2)
    throw new CliError("invalid-option", `--min-packs ${JSON.stringify(options.minPacks)} must be a whole number ≥ 2.`);
  if (options.engine !== "native" && options.engine !== "isomorphic") {
    throw new CliError("invalid-option", `--engine ${JSON.stringify(options.engine)}: use "native" or "isomorphic".`);
  }
  // A URL names the bucket directly (AWS, or the endpoint in the environment); without one, the
  // repository here says where its bucket is, endpoint and region included.
  const cloud: Pick<CloudSettings, "location" | "endpoint" | "region" | "encrypted"> = url
    ? { location: parseRemoteUrl(url), endpoint: undefined, region: undefined, encrypted: undefined }
    : await cloudFromGitConfig();
  const { location } = cloud;
  const s3 = storeFor(cloud);
  try {
    const layout = new BucketLayout(location.prefix);
    // Encrypted repositories are compacted here, on a machine that holds the key, never in the cloud. The
    // repository here recorded whether it is encrypted; given a URL, the bucket decides.
    const store = await repositoryStore(s3, layout, location.repo, { recorded: cloud.encrypted });
    const report = await compactRepository({
      store,
      layout,
      repo: location.repo,
      // isomorphic-git is loaded only when asked for: it would add ~20 MiB to every CLI command's memory.
      engine:
        options.engine === "native"
          ? new NativeGitEngine()
          : new (await import("../../../gitstore/isomorphic-engine.ts")).IsomorphicGitEngine(),
      graceMs: graceMinutes * 60_000,
      minPacks,
    });
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const where = `s3://${location.bucket}/${location.prefix}repos/${location.repo}.git`;
      process.stdout.write(
        `${where}: ${report.published ? `merged ${report.merged.length} packs into ${report.published} (${report.objectCount} objects)` : "nothing to merge"}; ` +
          `retired ${report.retired.length}, deleted ${report.deleted.length} after the grace period.\n`,
      );
    }
  } finally {
    s3.destroy();
  }
}

async function cloudFromGitConfig(): Promise<CloudSettings> {
  try {
    const here = await findRepository(process.cwd());
    if (here) return await readCloudSettings(here.workTree, here.gitDir);
  } catch (error) {
    if (!(error instanceof FolderError) || error.code !== "not-a-folder") throw error;
  }
  throw new CliError(
    "unknown-repository",
    "Which repository? Give its URL (cloudbridge compact cloudbridge::s3://<bucket>/<repo>) or run this inside a repository " +
      "with cloudbridge.bucket and cloudbridge.repo set in its git config.",
  );
}
