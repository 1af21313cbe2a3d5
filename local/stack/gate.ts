import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FauxqsParts } from "../fauxqs-internals.ts";
import { sendAwsError } from "./aws-errors.ts";
import { authorize } from "./authorizer.ts";
import { faultFor, type FaultCounts, type FaultRates } from "./faults.ts";
import type { IamDirectory, PolicyDocument } from "./iam.ts";
import { requestedActions, type ResourceNames } from "./request-actions.ts";
import { checkSignature, MAX_CLOCK_SKEW_MS, parseAuthorization } from "./sigv4.ts";

/**
 * The door every request to the rehearsed stack comes through, before any service sees it: the SigV4
 * signature is checked against the secret of the key it names, each action the request asks for is
 * authorized by IAM's rules (identity policies + the bucket, queue or topic policy), a missing object is
 * 403 to whoever may not list the bucket (as S3 answers), and the fault switch may answer instead.
 *
 * It must be installed before the other adapters' preHandler hooks: those capture state that the route
 * handler consumes in the same turn of the event loop, and this hook awaits.
 */
export interface GateOptions {
  iam: IamDirectory;
  names: ResourceNames;
  policies: {
    bucket(name: string): PolicyDocument | undefined;
    queue(arn: string): PolicyDocument | undefined;
    topic(arn: string): PolicyDocument | undefined;
  };
  faults: FaultRates;
  counts: FaultCounts;
  /** Every refusal, for the person running the rehearsal (never a secret). */
  log: (line: string) => void;
}

const RAW_BODY = Symbol("rawBody");
type WithRawBody = FastifyRequest & { [RAW_BODY]?: Buffer };

export function installGate({ app, s3 }: FauxqsParts, options: GateOptions): void {
  // Services other than S3 sign their body's hash without sending it: keep the bytes to check it.
  app.addHook("preParsing", async (request, _reply, payload) => {
    const service = parseAuthorization(request.headers)?.service;
    if (service === undefined || service === "s3") return payload;
    const chunks: Buffer[] = [];
    for await (const chunk of payload) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    (request as WithRawBody)[RAW_BODY] = body;
    return Readable.from([body]);
  });

  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.raw.url ?? "/";
    const question = url.indexOf("?");
    const rawPath = question < 0 ? url : url.slice(0, question);
    const rawQuery = question < 0 ? "" : url.slice(question + 1);
    const claimed = parseAuthorization(request.headers);
    const service = claimed?.service ?? (request.headers["x-amz-target"] ? "sqs" : "s3");
    const body = (request as WithRawBody)[RAW_BODY] ?? (Buffer.isBuffer(request.body) ? request.body : undefined);
    const params = (request.params ?? {}) as { bucket?: string; "*"?: string };

    const signature = await checkSignature({ method: request.method, rawPath, rawQuery, headers: request.headers, body }, (id) => {
      return options.iam.accessKey(id)?.secretAccessKey;
    });
    if (!signature.ok && signature.code === "RequestTimeTooSkewed") {
      options.log(`refused ${request.method} ${rawPath}: ${signature.code} (signed at ${signature.requestTime})`);
      return sendClockSkew(reply, service, signature);
    }
    if (!signature.ok) {
      options.log(`refused ${request.method} ${rawPath}: ${signature.code}`);
      const status = signature.code === "IncompleteSignature" || signature.code === "MissingAuthenticationToken" ? 400 : 403;
      return sendAwsError(
        reply,
        service,
        status === 400 && service === "s3" ? 403 : status,
        signature.code === "MissingAuthenticationToken" && service === "s3" ? "AccessDenied" : signature.code,
        signature.message,
      );
    }
    const principal = options.iam.accessKey(signature.authorization.accessKeyId)!.principal;

    const query = Object.fromEntries(new URLSearchParams(rawQuery));
    const actions = requestedActions(
      {
        service,
        region: signature.authorization.region,
        method: request.method,
        bucket: service === "s3" ? params.bucket : undefined,
        key: service === "s3" ? params["*"] || undefined : undefined,
        query,
        headers: request.headers,
        body,
        path: rawPath,
      },
      options.names,
    );
    const deny = (action: string, resource: string, why: string) => {
      options.log(`denied ${principal.arn} ${action} on ${resource}: ${why}`);
      const message = `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
      if (service === "sns") return sendAwsError(reply, service, 403, "AuthorizationError", message);
      if (service === "secretsmanager") return sendAwsError(reply, service, 400, "AccessDenied", message);
      return sendAwsError(reply, service, 403, "AccessDenied", message, resource);
    };
    if (!actions)
      return deny(
        `${service}:${request.method}`,
        rawPath,
        "because cloudbridge local cannot tell which action this request is, so it refuses it",
      );
    for (const requested of actions) {
      const decision = await authorize(
        options.iam,
        principal,
        requested,
        resourcePolicyFor(requested.action, requested.resource, options.policies),
        signature.authorization.region,
      );
      if (!decision.allowed) {
        return deny(
          requested.action,
          requested.resource,
          decision.explicitDeny
            ? "with an explicit deny in a policy"
            : `because no policy allows the ${requested.action} action (${decision.result})`,
        );
      }
    }

    // S3: a key that is not there is 404 only to whoever may list the bucket; anyone else learns nothing (403).
    const [only] = actions;
    if (service === "s3" && actions.length === 1 && (only!.action === "s3:GetObject" || only!.action === "s3:GetObjectVersion")) {
      if (!exists(s3, params.bucket!, params["*"]!)) {
        const bucketArn = `arn:aws:s3:::${params.bucket}`;
        const list = await authorize(
          options.iam,
          principal,
          { action: "s3:ListBucket", resource: bucketArn, context: {} },
          options.policies.bucket(params.bucket!),
          signature.authorization.region,
        );
        if (!list.allowed)
          return deny(
            only!.action,
            only!.resource,
            "because no identity-based policy allows the s3:ListBucket action on the bucket, so a missing key is not revealed",
          );
      }
    }

    if (service === "s3") {
      const fault = faultFor(
        { method: request.method, isS3Object: Boolean(params["*"]), headers: request.headers },
        options.faults,
        options.counts,
      );
      if (fault) {
        // As on AWS, a Complete answered 409 has ended its upload.
        if (fault.status === 409 && request.method === "POST" && query.uploadId) s3.multipartUploads.delete(query.uploadId);
        options.log(`injected ${fault.status} ${fault.code} into ${request.method} ${rawPath}`);
        return sendAwsError(reply, "s3", fault.status, fault.code, fault.message, rawPath);
      }
    }
    return undefined;
  });
}

function resourcePolicyFor(action: string, resource: string, policies: GateOptions["policies"]): PolicyDocument | undefined {
  if (action.startsWith("s3:") && resource.startsWith("arn:aws:s3:::")) return policies.bucket(resource.slice(13).split("/")[0]!);
  if (action.startsWith("sqs:")) return policies.queue(resource);
  if (action.startsWith("sns:")) return policies.topic(resource);
  return undefined;
}

function exists(s3: FauxqsParts["s3"], bucket: string, key: string): boolean {
  try {
    s3.headObject(bucket, key);
    return true;
  } catch {
    return false;
  }
}

/**
 * A request signed more than 15 minutes from the server's time, answered in each service's words (the
 * Date header every answer carries is what a client corrects its clock by): S3's 403 RequestTimeTooSkewed
 * with the request's and the server's times; SQS's 403 and Secrets Manager's 400 InvalidSignatureException;
 * SNS's 403 SignatureDoesNotMatch, both "Signature expired: … (… - 15 min.)".
 */
function sendClockSkew(
  reply: FastifyReply,
  service: string,
  refusal: { requestTime: string; serverTime: Date; message: string },
): FastifyReply {
  if (service === "s3") {
    return sendAwsError(
      reply,
      service,
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
      {
        details: {
          RequestTime: refusal.requestTime,
          ServerTime: refusal.serverTime.toISOString().replace(/\.\d{3}Z$/, "Z"),
          MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
        },
      },
    );
  }
  if (service === "sqs") return sendAwsError(reply, service, 403, "InvalidSignatureException", refusal.message);
  if (service === "secretsmanager") return sendAwsError(reply, service, 400, "InvalidSignatureException", refusal.message);
  return sendAwsError(reply, service, 403, "SignatureDoesNotMatch", refusal.message);
}
