/**
 * local/: the cloud on one machine (fauxqs plus the adapters it lacks, and the real functions behind the
 * bucket's events). Its program is local/main.ts (`cloudbridge local`); tests and benchmarks start it in
 * process with `startLocalCloud`.
 */
export {
  CHANGE_TOPIC_NAME,
  LOCAL_CREDENTIALS,
  startLocalCloud,
  type LocalCloud,
  type LocalCloudOptions,
  type LocalXmppOptions,
} from "./cloud.ts";
export { LocalCloudError, type LocalCloudErrorCode } from "./errors.ts";
