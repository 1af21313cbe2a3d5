/**
 * What a request asks to do, in IAM's terms: the action(s), the resource ARN each is evaluated against,
 * and the request's condition keys (https://docs.aws.amazon.com/service-authorization/latest/reference/).
 * S3 REST calls are told apart by method, path and subresource; SQS, Secrets Manager by X-Amz-Target;
 * SNS and CloudFormation by their form's Action; Lambda's Invoke by its path.
 */
export interface RequestedAction {
  action: string;
  resource: string;
  context: Record<string, string>;
}

export interface IncomingRequest {
  service: string;
  region: string;
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | undefined;
  /** The request's path (Lambda names the function there). */
  path?: string;
}

export interface ResourceNames {
  queueArn(urlOrName: string): string;
  secretArn(id: string): string;
  stackArn(name: string): string;
  functionArn(nameOrArn: string): string;
}

/** undefined: a call the rehearsal does not know how to authorize (it is refused, saying so). */
export function requestedActions(request: IncomingRequest, names: ResourceNames): RequestedAction[] | undefined {
  switch (request.service) {
    case "s3":
      return s3Actions(request);
    case "sqs":
      return jsonActions(request, "sqs", "AmazonSQS.", (body) => {
        if (typeof body.QueueUrl === "string") return names.queueArn(body.QueueUrl);
        if (typeof body.QueueName === "string") return names.queueArn(body.QueueName);
        return "*";
      });
    case "secretsmanager":
      return jsonActions(request, "secretsmanager", "secretsmanager.", (body) =>
        typeof body.SecretId === "string" ? names.secretArn(body.SecretId) : "*",
      );
    case "sns": {
      const form = new URLSearchParams(request.body?.toString("utf8") ?? "");
      const action = form.get("Action");
      if (!action) return undefined;
      const resource = form.get("TopicArn") ?? form.get("TargetArn") ?? topicOfSubscription(form.get("SubscriptionArn")) ?? "*";
      return [{ action: `sns:${IAM_ACTION_OF_BATCH[action] ?? action}`, resource, context: {} }];
    }
    case "cloudformation": {
      const form = new URLSearchParams(request.body?.toString("utf8") ?? "");
      const action = form.get("Action");
      if (!action) return undefined;
      const stack = form.get("StackName");
      return [{ action: `cloudformation:${action}`, resource: stack ? names.stackArn(stack) : "*", context: {} }];
    }
    case "lambda": {
      const name = request.method === "POST" ? lambdaInvokedFunction(request.path ?? "") : undefined;
      return name ? [{ action: "lambda:InvokeFunction", resource: names.functionArn(name), context: {} }] : undefined;
    }
    default:
      return undefined;
  }
}

/** The function a Lambda Invoke names in its path (`/2015-03-31/functions/<name or ARN>/invocations`). */
export function lambdaInvokedFunction(path: string): string | undefined {
  const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
  return match ? decodeURIComponent(match[1]!) : undefined;
}

function jsonActions(
  request: IncomingRequest,
  service: string,
  targetPrefix: string,
  resourceOf: (body: Record<string, unknown>) => string,
): RequestedAction[] | undefined {
  const target = first(request.headers["x-amz-target"]);
  if (!target?.startsWith(targetPrefix)) return undefined;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(request.body?.toString("utf8") || "{}") as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const operation = target.slice(targetPrefix.length);
  return [{ action: `${service}:${IAM_ACTION_OF_BATCH[operation] ?? operation}`, resource: resourceOf(body), context: {} }];
}

/** Batch operations IAM authorizes as the single action (https://docs.aws.amazon.com/service-authorization/latest/reference/). */
const IAM_ACTION_OF_BATCH: Readonly<Record<string, string>> = {
  SendMessageBatch: "SendMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
  PublishBatch: "Publish",
};

function topicOfSubscription(arn: string | null): string | undefined {
  return arn ? arn.split(":").slice(0, 6).join(":") : undefined;
}

/** The actions of an S3 REST request (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html). */
function s3Actions(request: IncomingRequest): RequestedAction[] | undefined {
  const { method, bucket, key, query } = request;
  const has = (name: string) => name in query;
  if (!bucket) return method === "GET" ? [{ action: "s3:ListAllMyBuckets", resource: "*", context: {} }] : undefined;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  if (!key) {
    const list = (action: string): RequestedAction => ({
      action,
      resource: bucketArn,
      context: Object.fromEntries(
        [
          ["s3:prefix", query.prefix],
          ["s3:delimiter", query.delimiter],
          ["s3:max-keys", query["max-keys"]],
        ].filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
    });
    if (method === "GET" && has("versions")) return [list("s3:ListBucketVersions")];
    if (method === "GET" && has("uploads")) return [{ action: "s3:ListBucketMultipartUploads", resource: bucketArn, context: {} }];
    if (method === "GET" && !Object.keys(query).some((q) => BUCKET_SUBRESOURCES.has(q))) return [list("s3:ListBucket")];
    if (method === "HEAD") return [list("s3:ListBucket")];
    if (method === "POST" && has("delete")) {
      // DeleteObjects: each key is authorized as its own DeleteObject (or DeleteObjectVersion).
      const xml = request.body?.toString("utf8") ?? "";
      return [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => {
        const objectKey = decodeXml(/<Key>([\s\S]*?)<\/Key>/.exec(m[1]!)?.[1] ?? "");
        const versioned = /<VersionId>/.test(m[1]!);
        return { action: versioned ? "s3:DeleteObjectVersion" : "s3:DeleteObject", resource: `${bucketArn}/${objectKey}`, context: {} };
      });
    }
    if (method === "PUT" && Object.keys(query).length === 0) return [{ action: "s3:CreateBucket", resource: bucketArn, context: {} }];
    if (method === "DELETE" && Object.keys(query).length === 0) return [{ action: "s3:DeleteBucket", resource: bucketArn, context: {} }];
    // Bucket configuration (policy, notification, versioning, lifecycle...): an administrator's business.
    const sub = Object.keys(query).find((q) => BUCKET_SUBRESOURCES.has(q));
    if (!sub) return undefined;
    return [
      {
        action: `s3:${method === "GET" ? "Get" : method === "DELETE" ? "Delete" : "Put"}${BUCKET_SUBRESOURCES.get(sub)}`,
        resource: bucketArn,
        context: {},
      },
    ];
  }
  const objectArn = `${bucketArn}/${key}`;
  const versioned = has("versionId");
  const one = (action: string): RequestedAction[] => [{ action, resource: objectArn, context: {} }];
  if (method === "GET" || method === "HEAD") {
    if (has("uploadId")) return one("s3:ListMultipartUploadParts");
    if (has("tagging")) return one(versioned ? "s3:GetObjectVersionTagging" : "s3:GetObjectTagging");
    if (has("acl")) return one(versioned ? "s3:GetObjectVersionAcl" : "s3:GetObjectAcl");
    return one(versioned ? "s3:GetObjectVersion" : "s3:GetObject");
  }
  if (method === "DELETE") {
    if (has("uploadId")) return one("s3:AbortMultipartUpload");
    if (has("tagging")) return one(versioned ? "s3:DeleteObjectVersionTagging" : "s3:DeleteObjectTagging");
    return one(versioned ? "s3:DeleteObjectVersion" : "s3:DeleteObject");
  }
  if (method === "PUT" || method === "POST") {
    if (has("tagging")) return one("s3:PutObjectTagging");
    if (has("acl")) return one("s3:PutObjectAcl");
    const actions = one("s3:PutObject");
    // CopyObject also reads its source.
    const source = first(request.headers["x-amz-copy-source"]);
    if (source) {
      const path = decodeURIComponent(source.replace(/^\//, "").split("?")[0]!);
      actions.push({ action: "s3:GetObject", resource: `arn:aws:s3:::${path}`, context: {} });
    }
    return actions;
  }
  return undefined;
}

const BUCKET_SUBRESOURCES = new Map([
  ["policy", "BucketPolicy"],
  ["notification", "BucketNotification"],
  ["versioning", "BucketVersioning"],
  ["lifecycle", "LifecycleConfiguration"],
  ["acl", "BucketAcl"],
  ["cors", "BucketCORS"],
  ["encryption", "EncryptionConfiguration"],
  ["logging", "BucketLogging"],
  ["tagging", "BucketTagging"],
  ["publicAccessBlock", "BucketPublicAccessBlock"],
  ["ownershipControls", "BucketOwnershipControls"],
  ["location", "BucketLocation"],
]);

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
