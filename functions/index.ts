/**
 * functions/: the Lambda handlers, each a thin `handler.ts` over a testable function. What runs them (the
 * CDK stack by path, `cloudbridge local` in worker threads) needs only where each handler module is; the
 * modules are not loaded here, because a handler reads its environment when it loads.
 */
import type { DeployedFunction } from "../protocol/index.ts";

export const HANDLER_MODULES: Readonly<Record<DeployedFunction, URL>> = {
  changeFanout: new URL("./change-fanout/handler.ts", import.meta.url),
  compaction: new URL("./compaction/handler.ts", import.meta.url),
  xmppFanout: new URL("./xmpp-fanout/handler.ts", import.meta.url),
};

export type { FanoutResult } from "./change-fanout/fanout.ts";
export type { CompactionResult } from "./compaction/compact.ts";
export type { XmppFanoutResult } from "./xmpp-fanout/notify.ts";
export { FunctionError, type FunctionErrorCode } from "./common/errors.ts";
