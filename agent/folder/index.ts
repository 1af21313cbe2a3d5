/** A cloudbridge folder: its settings (one schema), opening it for any command, and making a directory one. */
export {
  assertSettingValues,
  describeLocation,
  parseRate,
  readCloudSettings,
  readSettings,
  settingsWhenChanged,
  SETTING_NAMES,
  writeSettings,
  type CloudSettings,
  type FolderSettings,
  type ListenMode,
  type SettingName,
  type SettingValues,
  type Wanted,
} from "./config.ts";
export { cloneFolder, ensureDeployment, finishClone, folderRoot, initFolder, type CreateOptions } from "./create.ts";
export { findFolder, isFolder, linkedWorktreeOf, stateDirOf } from "./find.ts";
export { FolderError, inLinkedWorktree, notAFolder, notAFolderAt, type FolderErrorCode } from "./errors.ts";
export {
  findRepository,
  bucketStoreFor,
  openFolder,
  openSyncedFolder,
  storeFor,
  type Folder,
  type OpenOptions,
  type SyncedFolder,
} from "./open.ts";
