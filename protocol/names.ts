import { ProtocolError, quote } from "./errors.ts";

/**
 * Validation of the names that become parts of bucket keys and, later, paths on a user's disk.
 * Every name that comes from a user, a config file or the bucket passes through one of these
 * before it is used, so `..`, `/`, control characters and empty names never reach a key or a path.
 */

/** A string that is not valid Unicode (a lone surrogate) has no UTF-8 form: S3 and disks would get U+FFFD instead. */
export function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDFFF]/u.test(text);
}

const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

/** A repository name: one key segment, safe as a directory name on every common file system. */
export function assertRepoName(name: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new ProtocolError("invalid-repo-name", "The repository name is empty: give a name such as `photos`.", name);
  }
  if (name.includes("/")) {
    throw new ProtocolError(
      "invalid-repo-name",
      `The repository name ${quote(name)} contains "/": a repo is one level deep; use the bucket prefix for grouping.`,
      name,
    );
  }
  if (!REPO_NAME.test(name) || name.endsWith(".git") || name.includes("..") || name.endsWith(".")) {
    throw new ProtocolError(
      "invalid-repo-name",
      `The repository name ${quote(name)} is not allowed: use 1–100 letters, digits, ".", "_", "+" or "-", ` +
        `starting with a letter or digit, not ending in "." or ".git", with no "..".`,
      name,
    );
  }
  return name;
}

const LOWERCASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A lowercase UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx): an agent's id, or a git-annex repository's UUID. */
export function isLowercaseUuid(text: string): boolean {
  return LOWERCASE_UUID.test(text);
}

/** An agent's id: a lowercase UUID, as git-annex uses for repository UUIDs. */
export function assertAgentId(id: string): string {
  if (typeof id !== "string" || !isLowercaseUuid(id)) {
    throw new ProtocolError(
      "invalid-agent-id",
      `The agent id ${quote(String(id))} is not a lowercase UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).`,
      id,
    );
  }
  return id;
}

// git check-ref-format, minus what git itself would never produce in a ref we store.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const REF_FORBIDDEN = /[\x00-\x20\x7f~^:?*[\\]/;

/** A full ref name (`refs/heads/main`), by git's check-ref-format rules. */
export function assertRefName(ref: string): string {
  const fail = (why: string): never => {
    throw new ProtocolError("invalid-ref-name", `The ref name ${quote(String(ref))} is not valid: ${why}.`, ref);
  };
  if (typeof ref !== "string" || ref.length === 0) fail("it is empty");
  if (!ref.startsWith("refs/")) fail('it must start with "refs/"');
  if (ref.length > 1024) fail("it is longer than 1024 characters");
  if (REF_FORBIDDEN.test(ref)) fail("it contains a space, a control character or one of ~ ^ : ? * [ \\");
  if (hasLoneSurrogate(ref)) fail("it is not valid Unicode");
  if (ref.includes("..")) fail('it contains ".."');
  if (ref.includes("@{")) fail('it contains "@{"');
  if (ref.endsWith("/") || ref.endsWith(".")) fail('it ends with "/" or "."');
  for (const segment of ref.split("/")) {
    if (segment.length === 0) fail("it has an empty path component");
    if (segment.startsWith(".")) fail('a component starts with "."');
    if (segment.endsWith(".lock")) fail('a component ends with ".lock"');
  }
  return ref;
}

/**
 * The bucket prefix under which a deployment lives ("" or "team/", always ending in "/").
 * Accepts "team", "team/", "/team/" and "a/b"; rejects "..", empty segments and odd characters.
 */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "" || prefix === "/") return "";
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  const segments = trimmed.split("/");
  for (const segment of segments) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(segment) || segment.includes("..")) {
      throw new ProtocolError(
        "invalid-prefix",
        `The bucket prefix ${quote(prefix)} is not valid: each "/"-separated part must be letters, digits, ".", "_", "+" or "-", ` +
          `start with a letter or digit, and contain no "..".`,
        prefix,
      );
    }
  }
  return `${trimmed}/`;
}
