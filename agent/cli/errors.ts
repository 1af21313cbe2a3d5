import { dirname, sep } from "node:path";
import { CloudbridgeError, type ProtocolErrorCode } from "../../protocol/index.ts";
import type { AnnexErrorCode } from "../../annex/index.ts";
import { explainAccessError, type AccessContext, type CloudAccessErrorCode, type ObjectStoreErrorCode } from "../../objectstore/index.ts";
import type { FolderErrorCode } from "../folder/index.ts";
import type { OnboardErrorCode } from "../onboard/errors.ts";
import { forTerminalLines } from "../terminal-text.ts";

/**
 * An error meant for the person at the terminal: `message` says what went wrong and what to do.
 * - invalid-option: a flag's value is wrong (exit 2);
 * - unknown-repository: no repository named and none configured here (exit 2);
 * - incomplete: some of the files asked for could not be handled; the others were (exit 1);
 * - no-match: the paths given name no file the command works on (exit 1);
 * - folder-paused: the folder is paused; `cloudbridge resume` first (exit 2);
 * - content-refused: a sync round completed, but content was refused: from the bucket (hostile or
 *   unrepresentable paths) or a local symlink leading outside the folder (exit 3).
 */
export type CliErrorCode = "invalid-option" | "unknown-repository" | "incomplete" | "no-match" | "folder-paused" | "content-refused";

export class CliError extends CloudbridgeError<CliErrorCode> {}

/** Every error code a command can end with: the CLI's own, the folder's, the bucket's setup problems, the protocol's, the annex's. */
type ExitCodedError =
  | CliErrorCode
  | FolderErrorCode
  | CloudAccessErrorCode
  | ProtocolErrorCode
  | AnnexErrorCode
  | OnboardErrorCode
  | Extract<ObjectStoreErrorCode, "missing-repository-key" | "invalid-keyring" | "undecryptable-object">;

/**
 * The exit code of each error code, the table docs/agent.md shows (a unit test holds the two equal): 2 when
 * the person must change a command, a setting or the setup, 3 when a sync round refused content, 1 when
 * trying again may work or something else failed (also for an error that is not a CloudbridgeError).
 * Exhaustive: a new code does not compile until it has its exit code here (and in the document).
 */
export const EXIT_CODE: Readonly<Record<ExitCodedError, 1 | 2 | 3>> = {
  // The command or a setting is wrong.
  "invalid-option": 2,
  "unknown-repository": 2,
  "folder-paused": 2,
  // A name, key, URL or prefix the person typed or configured is not valid.
  "invalid-prefix": 2,
  "invalid-repo-name": 2,
  "invalid-agent-id": 2,
  "invalid-ref-name": 2,
  "invalid-annex-key": 2,
  "invalid-pack-name": 2,
  "invalid-key": 2,
  "invalid-message": 2,
  "invalid-event": 2,
  "invalid-jid": 2,
  "invalid-remote-url": 2,
  "invalid-endpoint": 2,
  "invalid-function-environment": 2,
  // The folder is not set up, or set up wrongly, or already synced by a daemon: another command or setting.
  "not-a-folder": 2,
  "invalid-setting": 2,
  "already-a-folder": 2,
  "folder-not-empty": 2,
  "repository-exists": 2,
  "no-such-repository": 2,
  "unsupported-format": 2,
  "daemon-running": 2,
  "clone-unfinished": 2,
  "existing-history": 2,
  // This machine cannot use the bucket: a setting, credentials or the bucket itself must change.
  "no-region": 2,
  "no-credentials": 2,
  "credentials-refused": 2,
  "wrong-endpoint": 2,
  "wrong-region": 2,
  "no-such-bucket": 2,
  "access-denied": 2,
  // An encrypted repository this machine holds no key for (add its key on a machine that has one), or a damaged key ring.
  "missing-repository-key": 2,
  "invalid-keyring": 2,
  // The bucket's annex UUID is damaged: it must be put back before a new machine can join.
  "corrupt-cloud-uuid": 2,
  // Onboarding: another stack, agent or repository name, a deploy, administrator credentials or a new invite.
  "no-such-stack": 2,
  "not-an-administrator": 2,
  "unknown-agent": 2,
  "repository-not-granted": 2,
  "invalid-invite": 2,
  "invite-expired": 2,
  "invite-used": 2,
  // Nothing answers at the endpoint: it may come back by itself.
  "endpoint-unreachable": 1,
  // Some files could not be handled (the others were); a drop was refused; content is damaged or missing.
  incomplete: 1,
  "no-match": 1,
  "missing-stack-output": 1,
  "content-locked": 1,
  "unverifiable-key": 1,
  "drop-refused": 1,
  "corrupt-local-content": 1,
  "content-not-in-cloud": 1,
  "corrupt-object": 1,
  "bad-agent-secret": 1,
  // The round finished; content was refused (from the bucket, or local paths not uploaded, or not writable here).
  "content-refused": 3,
  // An object of an encrypted repository did not decrypt (altered or replaced in the bucket): nothing was written.
  "undecryptable-object": 3,
};

export function exitCodeFor(error: unknown): number {
  if (error instanceof CloudbridgeError && Object.hasOwn(EXIT_CODE, error.code)) return EXIT_CODE[error.code as ExitCodedError];
  return 1;
}

/**
 * The error a person reads: a failure to reach the bucket at all (no region, no credentials, nothing at
 * the endpoint, no such bucket, access denied) is said with what to do, whichever command met it.
 */
export function explainError(error: unknown, context: AccessContext = {}): unknown {
  return explainAccessError(error, context) ?? explainLocalDisk(error) ?? error;
}

/**
 * A full disk (or quota) here, said as such: the system's own words name a temporary file and say nothing
 * of what to do. Every write the agent makes is to a temporary name then renamed, or git's own, so a round
 * once there is room carries on (what the bucket holds stays there).
 */
function explainLocalDisk(error: unknown): CliError | undefined {
  const { code, path, dest } = (error ?? {}) as { code?: unknown; path?: unknown; dest?: unknown };
  if (code !== "ENOSPC" && code !== "EDQUOT") return undefined;
  const file = typeof dest === "string" ? dest : typeof path === "string" ? path : undefined;
  const inGit = file?.lastIndexOf(`${sep}.git${sep}`) ?? -1;
  const where = file === undefined ? "" : ` that holds ${inGit >= 0 ? file.slice(0, inGit) : dirname(file)}`;
  const what = code === "EDQUOT" ? "Your disk quota is used up on the disk" : "No space left on the disk";
  return new CliError(
    "incomplete",
    `${what}${where}: free some space there, then \`cloudbridge sync\` in the folder carries on where this stopped (a clone cut short says to run the clone again; a get or copy, run it again). Nothing in the bucket was changed by the failed write.`,
    { cause: error },
  );
}

export function reportError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`cloudbridge: ${forTerminalLines(message)}\n`);
  if (process.env.CLOUDBRIDGE_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
