import { CloudbridgeError } from "../protocol/errors.ts";

/**
 * What went wrong running git on a local repository:
 * - `git-unavailable`: the git binary could not be started (not installed, not on PATH);
 * - `git-failed`: git ran and refused (its own message is quoted);
 * - `unrepresentable-path`: a tree entry or a file name that is not valid UTF-8, which cloudbridge refuses
 *   rather than rewrite (a rewritten name is a different file to git, so both would end up in the tree).
 */
export type LocalGitErrorCode = "git-unavailable" | "git-failed" | "unrepresentable-path";

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
