import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { BucketLayout } from "../protocol/index.ts";
import type { CloudbridgeConfig } from "./config.ts";

/**
 * The bucket that holds the repositories and the annexed content (docs/architecture.md, "Bucket layout"), and the
 * bucket its access logs go to.
 *
 * - No public access of any kind, TLS 1.2+ only (bucket policy), encrypted at rest (SSE-S3: no key to
 *   pay for or manage; git-annex's S3 special remote works with it unchanged).
 * - Versioned, so an overwritten ref or a deleted file can be recovered for `noncurrentVersionDays`.
 * - Lifecycle: incomplete multipart uploads are aborted; noncurrent versions expire; delete markers
 *   left alone by expiry are removed; packs that compaction removed (noncurrent versions under each
 *   repo's `objects/pack/`) are retired sooner, since the compacted pack holds all their objects.
 * - Kept on `cdk destroy` (RETAIN): the bucket holds the user's files.
 */
export class CloudbridgeBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, config: CloudbridgeConfig) {
    super(scope, id);
    const layout = new BucketLayout(config.prefix);

    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // S3 log delivery writes only to buckets encrypted with SSE-S3.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(config.accessLogDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: "AwsSolutions-S1",
      reason: "This is the access-log bucket of the data bucket; logging it to itself would log every log delivery, without end.",
    });

    const retiredPacks = config.repos.map((repo) => ({
      id: `retire-compacted-packs-${repo}`,
      prefix: layout.packsRoot(repo),
      noncurrentVersionExpiration: Duration.days(Math.min(config.retiredPackDays, config.noncurrentVersionDays)),
    }));

    this.bucket = new s3.Bucket(this, "Data", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "s3-access/",
      lifecycleRules: [
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(config.incompleteUploadDays) },
        {
          id: "expire-noncurrent-versions",
          ...(layout.prefix ? { prefix: layout.prefix } : {}),
          noncurrentVersionExpiration: Duration.days(config.noncurrentVersionDays),
          expiredObjectDeleteMarker: true,
        },
        ...retiredPacks,
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
