export * from "./chunked-cipher.ts";
export * from "./encrypted-store.ts";
export * from "./errors.ts";
export * from "./identity.ts";
export * from "./keyring.ts";
export * from "./name-cipher.ts";
export * from "./repository-store.ts";
