/**
 * gitstore: git over the bucket. Formats of what the bucket holds (refs, packs, info files), the engine
 * seam (native git here; the portable isomorphic-git engine has its own face, isomorphic-engine.ts, so
 * that only the Lambda loads isomorphic-git), push and fetch with compare-and-swap, and compaction. The
 * remote helper (remote-helper/main.ts) is a program of its own built from these parts.
 */
export { AGENT_ID_KEY, agentIdFor, HELPER_AGENT_ID_KEY } from "./agent-id.ts";
export { BUCKET_ACCESS_SETTINGS, bucketAccessFrom, FOLDER_LOCATION_SETTINGS, settingsAreFor } from "./bucket-access.ts";
export { addToPackList, downloadPack, editInfoPacks, readInfoPacks, readLivePacks, SINGLE_PUT_LIMIT, uploadPack } from "./bucket-packs.ts";
export { bucketTips, corruptSharedRef, knownRefs, readBucketRefs, type BucketRef, type BucketRefs } from "./bucket-refs.ts";
export { compactRepository, DEFAULT_GRACE_MS, type CompactionOptions, type CompactionReport } from "./compaction.ts";
export { DEFAULT_LEASE_MS, takeCompactionLease, type CompactionLease } from "./compaction-lease.ts";
export type { GitEngine, PackFiles } from "./engine.ts";
export { GitStoreError, type GitStoreErrorCode } from "./errors.ts";
export { fetchObjects, fetchRefs, type FetchResult, type ObjectsFetched } from "./fetch.ts";
export { parseInfoPacks, writeInfoPacks } from "./info-packs.ts";
export { parseInfoRefs, readRefsIndexBody, writeInfoRefs, writePackedRefs } from "./info-refs.ts";
export { treeMergeCallback } from "./merge-commit.ts";
export { NativeGitEngine } from "./native-engine.ts";
export { checkIndexMatchesPack, formatPackIndex, parsePackIndex, verifyPackFile, type PackIndexEntry } from "./pack-format.ts";
export { PackWriter } from "./pack-writer.ts";
export {
  push,
  type MergeCallback,
  type OnConflict,
  type PushOptions,
  type PushOutcome,
  type PushResult,
  type PushStatus,
  type RefUpdate,
} from "./push.ts";
export { ENCRYPTED_SETTING, recordedEncryption } from "./recorded-encryption.ts";
export { isObjectId, parseHeadFile, parseRefFile, writeHeadFile, writeRefFile } from "./ref-file.ts";
export { engineOf, type RepoContext } from "./repo-context.ts";
export { cachedRefsIndex, indexEntries, readRefsIndex, readSharedRefNow, writeRefsIndex, type RefsIndex } from "./refs-index.ts";
export { parseRetiredPacks, writeRetiredPacks } from "./retired-packs.ts";
export { DEFAULT_BRANCH, publishServerInfo } from "./server-info.ts";
export { trackingRefName, trackingRefPrefixes } from "./tracking-refs.ts";
export { helperFailure, helperFetch, helperList, helperPush, openHelperRepository } from "./remote-helper/commands.ts";
export { converse, type HelperSession, type HelperWork } from "./remote-helper/conversation.ts";
