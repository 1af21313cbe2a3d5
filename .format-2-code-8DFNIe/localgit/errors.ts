import { CloudbridgeError } from "../protocol/index.ts";

/**
 * What went wrong running git on a local repository:
 * - `git-unavailable`: the git binary could not be started (not installed, not on PATH);
 * - `git-failed`: git ran and refused (its own message is quoted).
 * A name that is not valid UTF-8 is not an error: it is refused and listed (tree.ts).
 */
export type LocalGitErrorCode = "git-unavailable" | "git-failed";

export class LocalGitError extends CloudbridgeError<LocalGitErrorCode> {
  /** git's exit code, for `git-failed`. */
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(code: LocalGitErrorCode, message: string, details: { exitCode?: number; stderr?: string } = {}) {
    super(code, message);
    this.exitCode = details.exitCode;
    this.stderr = details.stderr ?? "";
  }
}
