/**
 * localgit: the only code that runs git on a local repository. One runner (run.ts), refs (refs.ts),
 * objects (objects.ts), trees and the policy for names that are not UTF-8 (tree.ts), config (config.ts),
 * the commit identity (commit.ts), and `Git`, a handle on one repository for the agent's hot paths.
 * The asking side of a daemon's socket in a repository (daemon-socket.ts) is a face of its own: the remote
 * helper and `cloudbridge sync` load it before anything else.
 */
export { commitParents, commitTree, DEFAULT_IDENTITY, identityEnv, type CommitIdentity } from "./commit.ts";
export { commonGitDir, findRepository, initRepository } from "./repository.ts";
export { configFiles, configFilesOf, configFromList, getConfig, parseConfigWithOrigins, readConfig, setConfig } from "./config.ts";
export { LocalGitError, type LocalGitErrorCode } from "./errors.ts";
export { diffTrees, Git, type GitRunOptions } from "./git.ts";
export { editTree, TreeEditConflict, type TreeEdit } from "./tree-edit.ts";
export { treeChanges } from "./tree-diff.ts";
export { BlobReader, hashObjectFiles, type GitObject, hasObjects, objectSizes, readObjects, writeLooseObject } from "./objects.ts";
export { isAncestor, mergeBase, readRefs, resolveCommit, resolveRef, swapRef, updateRef, updateRefs } from "./refs.ts";
export {
  gitSpawnerPid,
  gitText,
  joinNul,
  runGit,
  splitNul,
  startGit,
  startGitFromSpawner,
  stopGitSpawner,
  type GitOptions,
  type GitRun,
} from "./run.ts";
export {
  decodePath,
  displayPath,
  encodePath,
  parseDiffTree,
  parseLsTree,
  unrepresentableNameReason,
  type TreeChange,
  type TreeEntry,
} from "./tree.ts";
