import { accessEndpoint, accessRegion, localCloudKey, plainS3Settings, type BucketAccess } from "./aws-settings.ts";
import { profileCredentials, type CredentialsProvider } from "./profile-credentials.ts";
import { LightS3Client } from "./s3-light-client.ts";
import { createS3Client, S3ObjectStore } from "./s3-object-store.ts";

/**
 * The key the repository's settings impose, or undefined for the SDK's credential chain: the profile's, or
 * the local cloud's public one for a loopback endpoint when the environment names no credentials.
 */
export function accessCredentials(
  access: BucketAccess,
  env: NodeJS.ProcessEnv = process.env,
): CredentialsProvider | { accessKeyId: string; secretAccessKey: string } | undefined {
  return access.profile ? profileCredentials(access.profile) : localCloudKey(access, env);
}

/** Endpoint, region and credentials of every AWS client a repository makes (S3, SQS, Secrets Manager). */
export function awsClientConfig(
  access: BucketAccess,
  env: NodeJS.ProcessEnv = process.env,
): { endpoint?: string; region?: string; credentials?: CredentialsProvider | { accessKeyId: string; secretAccessKey: string } } {
  const region = accessRegion(access, env);
  const credentials = accessCredentials(access, env);
  return {
    ...(access.endpoint ? { endpoint: access.endpoint } : {}),
    ...(region ? { region } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

/**
 * The bucket's store for a short-lived process (the remote helper, a command with no daemon): its requests
 * through the light client when the settings are plain (aws-settings.ts), the SDK's client otherwise
 * (CLOUDBRIDGE_S3_CLIENT=sdk forces it), and the endpoint it reaches, made from the same settings.
 */
export async function bucketStore(bucket: string, access: BucketAccess = {}, env: NodeJS.ProcessEnv = process.env): Promise<S3ObjectStore> {
  const plain = env.CLOUDBRIDGE_S3_CLIENT === "sdk" ? undefined : await plainS3Settings(bucket, env, access);
  const requests = plain ? new LightS3Client(plain) : createS3Client(awsClientConfig(access, env));
  return new S3ObjectStore(bucket, requests, accessEndpoint(access, env));
}
