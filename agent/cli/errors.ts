import { CloudbridgeError, type ProtocolErrorCode } from "../../protocol/index.ts";
import type { FolderErrorCode } from "../folder/index.ts";
import type { OnboardErrorCode } from "../onboard/errors.ts";
import { forTerminalLines } from "../terminal-text.ts";

/**
 * An error meant for the person at the terminal: `message` says what went wrong and what to do.
 * - invalid-option: a flag's value is wrong (exit 2);
 * - unknown-repository: no repository named and none configured here (exit 2);
 * - incomplete: some of the files asked for could not be handled; the others were (exit 1);
 * - no-match: the paths given name no file the command works on (exit 1);
 * - content-refused: a sync round completed, but content was refused: from the bucket (hostile or
 *   unrepresentable paths) or a local symlink leading outside the folder (exit 3).
 */
export type CliErrorCode = "invalid-option" | "unknown-repository" | "incomplete" | "no-match" | "content-refused";

export class CliError extends CloudbridgeError<CliErrorCode> {}

/**
 * The exit code for each error code, as docs/agent.md documents them: 2 when the person must change a
 * command or a setting, 3 when a sync round refused content from the bucket, 1 for everything else
 * (a code not listed here, or an error that is not a CloudbridgeError).
 */
const EXIT_CODE: Readonly<Partial<Record<CliErrorCode | ProtocolErrorCode | FolderErrorCode | OnboardErrorCode, 2 | 3>>> = {
  // The command or a setting is wrong.
  "invalid-option": 2,
  "unknown-repository": 2,
  // Every ProtocolError but one: a name, key, URL or prefix the person typed or configured is not valid.
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
  // Onboarding: another stack, agent or repository name, a deploy, administrator credentials or a new invite.
  "no-such-stack": 2,
  "not-an-administrator": 2,
  "unknown-agent": 2,
  "repository-not-granted": 2,
  "invalid-invite": 2,
  "invite-expired": 2,
  "invite-used": 2,
  // The round finished; content the bucket holds was refused (hostile or unrepresentable paths).
  "content-refused": 3,
};

export function exitCodeFor(error: unknown): number {
  if (error instanceof CloudbridgeError) return EXIT_CODE[error.code as keyof typeof EXIT_CODE] ?? 1;
  return 1;
}

export function reportError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`cloudbridge: ${forTerminalLines(message)}\n`);
  if (process.env.CLOUDBRIDGE_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
