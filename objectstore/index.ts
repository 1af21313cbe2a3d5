/**
 * objectstore/: the one interface to the bucket (`ObjectStore`, `MultipartStore`), its S3 implementation,
 * and the errors a caller can act on. Import it through this file.
 */
export * from "./object-store.ts";
export * from "./s3-object-store.ts";
export * from "./s3-requests.ts";
export * from "./s3-light-client.ts";
export * from "./aws-settings.ts";
export * from "./aws-profiles.ts";
export * from "./profile-credentials.ts";
export * from "./bucket-client.ts";
export * from "./map-limit.ts";
export * from "./retry.ts";
export * from "./access-errors.ts";
export * from "./encryption/index.ts";
