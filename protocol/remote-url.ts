import { ProtocolError, quote } from "./errors.ts";
import { assertRepoName, normalizePrefix } from "./names.ts";

/**
 * The remote URL git users write: `cloudbridge::s3://<bucket>[/<prefix>]/<repo>`. git strips the
 * `cloudbridge::` and hands the helper `s3://…`; the last path segment is the repository, anything
 * between the bucket and it is the deployment prefix.
 */
export interface RemoteLocation {
  bucket: string;
  /** "" or a normalized prefix ending in "/". */
  prefix: string;
  repo: string;
}

// S3's rules for bucket names (3–63 lowercase letters, digits, "." and "-", starting and ending with a
// letter or digit, not shaped like an IP address).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function assertBucketName(name: string): string {
  if (!BUCKET.test(name) || name.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    throw new ProtocolError(
      "invalid-remote-url",
      `${quote(name)} is not an S3 bucket name (3–63 lowercase letters, digits, "." or "-").`,
      name,
    );
  }
  return name;
}

export function parseRemoteUrl(url: string): RemoteLocation {
  const fail = (why: string): never => {
    throw new ProtocolError(
      "invalid-remote-url",
      // A name's own refusal ends with a period already.
      `The remote URL ${quote(url)} is not valid: ${why.replace(/\.$/, "")}. Write it as cloudbridge::s3://<bucket>[/<prefix>]/<repo>.`,
      url,
    );
  };
  const rest = url.replace(/^cloudbridge::/, "");
  if (!rest.startsWith("s3://")) fail('it does not start with "s3://"');
  const segments = rest.slice("s3://".length).replace(/\/+$/, "").split("/");
  if (segments.length < 2) fail("it names a bucket but no repository");
  const bucket = segments[0]!;
  const repo = segments[segments.length - 1]!.replace(/\.git$/, "");
  const prefix = segments.slice(1, -1).join("/");
  try {
    return { bucket: assertBucketName(bucket), prefix: normalizePrefix(prefix), repo: assertRepoName(repo) };
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}

export function formatRemoteUrl(location: RemoteLocation): string {
  return `cloudbridge::s3://${location.bucket}/${location.prefix}${location.repo}`;
}
