import { CloudbridgeError } from "../../protocol/index.ts";

/**
 * What the history views cannot do as asked (exit 1; the message names the command that lists what can be):
 * - not-a-conflict: the file named is not one of a conflict's two names;
 * - no-such-version: the path has no such version, or did not exist at that time;
 * - cannot-restore: a version cannot be written here (an unsafe path, a file in the way, content missing).
 */
export type HistoryErrorCode = "not-a-conflict" | "no-such-version" | "cannot-restore";

export class HistoryError extends CloudbridgeError<HistoryErrorCode> {}
