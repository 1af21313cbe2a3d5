import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import type { S3Event } from "aws-lambda";
import {
  bucketEventRoutes,
  type BucketEventRoute,
  BucketLayout,
  changeFanoutEnvironment,
  FUNCTION_SERVICE_NAME,
  LOCAL_CLOUD_CREDENTIALS,
  xmppFanoutEnvironment,
} from "../protocol/index.ts";
import { HANDLER_MODULES } from "../functions/index.ts";
import { LocalCloudError } from "./errors.ts";
import { installBucketNotifications, type BucketNotifications } from "./bucket-notifications.ts";
import { installConditionalWrites } from "./conditional-writes.ts";
import { buildFauxqs } from "./fauxqs-internals.ts";
import { listenOnLoopback } from "./loopback.ts";
import { installPartDigests } from "./part-digests.ts";
import { startLocalFunction, type LocalFunction } from "./lambda-runtime.ts";
import { installS3Fixes } from "./s3-fixes.ts";
import { installSecretsManager, type LocalSecrets } from "./secrets-manager.ts";
import { startXmppBridge, type XmppBridge } from "./xmpp-bridge.ts";

/**
 * The cloud on one machine: S3, SNS and SQS (fauxqs) on 127.0.0.1, with the adapters fauxqs lacks
 * (conditional writes, bucket notifications), the default bucket and change topic, and the real
 * `functions/` handlers invoked for bucket events as Lambda would invoke them.
 */
export interface LocalCloudOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Keep state here across restarts; without it everything lives in memory. */
  dataDir?: string;
  bucket?: string;
  region?: string;
  /** Deployment prefix inside the bucket ("" by default). */
  prefix?: string;
  /** Where the local cloud reports function failures and other events; silent by default. */
  log?: (line: string) => void;
  /** With these, the real XMPP function sends a headline for each change, as the stack's xmpp settings do. */
  xmpp?: LocalXmppOptions;
}

export interface LocalXmppOptions {
  /** `xmpp://host:port` or `xmpps://host:port`. */
  service: string;
  domain?: string;
  /** JIDs that hear of changes. */
  recipients: string[];
  /** The notifier account: kept in the local Secrets Manager, as the stack keeps it in AWS's. */
  jid: string;
  password: string;
  /** Seconds before a failed XMPP event is retried (1 by default). */
  retryDelaySeconds?: number;
}

export interface LocalCloud {
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly bucket: string;
  readonly topicArn: string;
  /** What an agent (or any AWS SDK / CLI) needs in its environment to use this cloud. */
  readonly env: Readonly<Record<string, string>>;
  /** Secrets Manager's GetSecretValue on this endpoint (the XMPP function's credentials). */
  readonly secrets: LocalSecrets;
  /** The XMPP function's event queue and dead-letter queue, when `xmpp` was given. */
  readonly xmpp: Pick<XmppBridge, "queueUrl" | "deadLetterQueueUrl"> | undefined;
  /** Waits until every bucket event so far has gone through its function. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { ...LOCAL_CLOUD_CREDENTIALS };
export const CHANGE_TOPIC_NAME = "cloudbridge-changes";

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const region = options.region ?? "us-east-1";
  const bucket = options.bucket ?? "cloudbridge";
  const layout = new BucketLayout(options.prefix);
  const log = options.log ?? (() => {});
  const parts = await buildFauxqs({ region, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  installS3Fixes(parts, { region });
  // Before the hooks that hold a request's state until its handler runs: this one waits for a worker.
  installPartDigests(parts);
  installConditionalWrites(parts);
  const secrets = installSecretsManager(parts, { region });
  const notifications: BucketNotifications = installBucketNotifications(parts, {
    region,
    onError: (rule, key, error) => log(`bucket notification ${rule.id} for ${key} failed: ${(error as Error).message}`),
  });

  // Loopback only: the emulator checks no signature, so it must never be reachable from the network.
  const { port, endpoint } = await listenOnLoopback(parts, options.port);
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };

  const functions: LocalFunction[] = [];
  let xmppBridge: XmppBridge | undefined;
  try {
    if (!parts.s3.hasBucket(bucket)) parts.s3.createBucket(bucket);
    const sns = new SNSClient({ region, endpoint, credentials: LOCAL_CREDENTIALS });
    const { TopicArn: topicArn } = await sns.send(new CreateTopicCommand({ Name: CHANGE_TOPIC_NAME }));
    sns.destroy();
    if (!topicArn) throw new LocalCloudError("local-emulator-incomplete", "the emulator created the change topic but returned no ARN");

    // Lambda's runtime settings as cloudbridge local runs them: quiet logs, no CloudWatch metrics.
    const runtime = {
      ...env,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
      POWERTOOLS_METRICS_DISABLED: "true",
      PATH: process.env.PATH ?? "",
    };
    const changeFanout = startLocalFunction({
      name: FUNCTION_SERVICE_NAME.changeFanout,
      module: HANDLER_MODULES.changeFanout,
      env: { ...runtime, ...changeFanoutEnvironment({ topicArn, prefix: layout.prefix }) },
    });
    functions.push(changeFanout);
    // The same notification configuration the CDK stack deploys: refs and content, not packs.
    const fedByBucket: Record<BucketEventRoute["target"], LocalFunction> = { changeFanout };
    for (const route of bucketEventRoutes(layout)) {
      const target = fedByBucket[route.target];
      notifications.add({
        id: route.id,
        bucket,
        events: route.events,
        prefix: route.prefix,
        deliver: async (event: S3Event) => void (await target.invoke(event)),
      });
    }

    if (options.xmpp) {
      const xmpp = options.xmpp;
      const secretArn = secrets.put("cloudbridge-local/xmpp", JSON.stringify({ jid: xmpp.jid, password: xmpp.password }));
      const xmppFanout = startLocalFunction({
        name: FUNCTION_SERVICE_NAME.xmppFanout,
        module: HANDLER_MODULES.xmppFanout,
        env: {
          ...runtime,
          ...xmppFanoutEnvironment({ service: xmpp.service, domain: xmpp.domain, recipients: xmpp.recipients, secretId: secretArn }),
        },
      });
      functions.push(xmppFanout);
      xmppBridge = await startXmppBridge({
        endpoint,
        region,
        credentials: LOCAL_CREDENTIALS,
        topicArn,
        fn: xmppFanout,
        log,
        ...(xmpp.retryDelaySeconds !== undefined ? { retryDelaySeconds: xmpp.retryDelaySeconds } : {}),
      });
    }

    return {
      endpoint,
      port,
      region,
      bucket,
      topicArn,
      env,
      secrets,
      xmpp: xmppBridge ? { queueUrl: xmppBridge.queueUrl, deadLetterQueueUrl: xmppBridge.deadLetterQueueUrl } : undefined,
      settle: () => notifications.drain(),
      stop: async () => {
        await notifications.drain();
        await xmppBridge?.stop();
        await Promise.all(functions.map((f) => f.stop()));
        await parts.close();
      },
    };
  } catch (error) {
    await xmppBridge?.stop();
    await Promise.all(functions.map((f) => f.stop()));
    await parts.close();
    throw error;
  }
}
