import { runSimulation } from "@cloud-copilot/iam-simulate";
import { ACCOUNT_ID, type IamDirectory, type IamPrincipal, type PolicyDocument } from "./iam.ts";
import type { RequestedAction } from "./request-actions.ts";

/**
 * IAM's decision for one action, by a maintained evaluator (@cloud-copilot/iam-simulate): the principal's
 * identity policies and the resource's own policy (bucket, queue or topic policy), same account, with the
 * request's condition keys. Allowed only when some statement allows and none denies, as IAM decides.
 *
 * The local cloud listens on loopback HTTP; requests are evaluated as arriving over TLS 1.3
 * (`aws:SecureTransport` true), which every AWS SDK uses against AWS, so the stack's deny-non-TLS
 * statements apply to what they are meant to catch, not to the rehearsal's transport.
 */
export interface Decision {
  allowed: boolean;
  /** IAM's words: "Allowed", "ExplicitlyDenied" or "ImplicitlyDenied", or why it could not be evaluated. */
  result: string;
  explicitDeny: boolean;
}

export async function authorize(
  iam: IamDirectory,
  principal: IamPrincipal,
  requested: RequestedAction,
  resourcePolicy: PolicyDocument | undefined,
  region: string,
): Promise<Decision> {
  const service = requested.action.split(":")[0]!;
  const contextVariables: Record<string, string> = {
    "aws:SecureTransport": "true",
    "aws:SourceIp": "127.0.0.1",
    "aws:PrincipalArn": principal.arn,
    "aws:PrincipalAccount": ACCOUNT_ID,
    "aws:PrincipalType": principal.kind === "user" ? "User" : "AssumedRole",
    "aws:userid": principal.id,
    "aws:CurrentTime": new Date().toISOString(),
    "aws:RequestedRegion": region,
    ...(principal.kind === "user" ? { "aws:username": principal.name } : {}),
    ...iam.principalTags(principal),
    ...(service === "s3" ? { "s3:TlsVersion": "1.3" } : {}),
    ...requested.context,
  };
  const response = await runSimulation(
    {
      request: {
        principal: principal.arn,
        action: requested.action,
        resource: { resource: requested.resource, accountId: ACCOUNT_ID },
        contextVariables,
      },
      identityPolicies: iam.identityPolicies(principal),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === "error") {
    return { allowed: false, explicitDeny: false, result: `not evaluated: ${JSON.stringify(response.errors).slice(0, 400)}` };
  }
  const result = String(response.overallResult);
  return { allowed: result === "Allowed", explicitDeny: result === "ExplicitlyDenied", result };
}
