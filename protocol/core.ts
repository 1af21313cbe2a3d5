/**
 * The part of the contract that needs no schema library: the bucket layout, names and git-annex keys,
 * remote URLs, the error base. A face besides index.ts for what git starts at every fetch and push (the
 * remote helper and the gitstore, objectstore and localgit code it runs): index.ts also loads zod for the
 * messages, events and stack outputs, which adds a third to the S3 client's start-up (docs/performance.md).
 */
export * from "./annex-key.ts";
export * from "./endpoint-url.ts";
export * from "./errors.ts";
export * from "./layout.ts";
export * from "./local-cloud.ts";
export * from "./names.ts";
export * from "./remote-url.ts";
