/**
 * Annexed content, as git-annex keeps it: the git-annex branch and its logs (logs/), content on this
 * machine (content/) and moving it to and from the cloud (transfer/). The rest of cloudbridge uses the
 * annex through this file only.
 */
export { AnnexError, type AnnexErrorCode } from "./errors.ts";
export {
  Annex,
  type AnnexOptions,
  type BandwidthLimits,
  type BatchOptions,
  type FsckProblem,
  type KeyTransfer,
  type Location,
} from "./annex.ts";

export { ANNEX_BRANCH, AnnexBranch, type FileChange } from "./logs/annex-branch.ts";
export { unsafeBranchPathReason } from "./logs/branch-paths.ts";
export { ensureCloudUuid, recordCloudRemote, recordRepository } from "./logs/cloud-remote.ts";
export { contentHoldings, type Holding } from "./logs/holdings.ts";
export { readLocations, recordPresence, whereIs, type PresenceChange } from "./logs/location-tracking.ts";
export { PREFERRED_CONTENT_LOG, recordWanted, wantersLacking, type Wanter, type WantedExpression } from "./logs/preferred-content.ts";

export { annexedFiles, indexedFiles, type AnnexedFile, type IndexedFile } from "./content/annexed-files.ts";
export { hashFile, verifyFile } from "./content/content-hash.ts";
export { DEFAULT_LARGE_FILES, goesToAnnex, isLargeFile, largeFilesRuleFrom, parseSize, type LargeFilesRule } from "./content/largefiles.ts";
export { LocalStore } from "./content/local-store.ts";
export { LockFile } from "./content/lock-file.ts";
export { placeContent, readPointerFile, sameFile } from "./content/place.ts";
export { formatPointer, MAX_POINTER_SIZE, mayBePointerSize, parsePointer, parseSymlinkTarget, POINTER_PREFIX } from "./content/pointer.ts";
export { isProcessAlive } from "./content/process-alive.ts";
export { journaledTemporaries, registerFolder, removeLeftoverTemporaries, settled, tempPathFor } from "./content/temporaries.ts";

export type { DownloadResult } from "./transfer/download.ts";
export { isTransient } from "./transfer/retry.ts";
export { RateLimiter } from "./transfer/rate-limit.ts";
export type { UploadResult } from "./transfer/upload.ts";
export type { CloudContent, TransferOptions } from "./transfer/transfer-settings.ts";
