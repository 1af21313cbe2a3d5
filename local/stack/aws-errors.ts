import { randomUUID } from "node:crypto";
import type { FastifyReply } from "fastify";

/**
 * An error answered in each service's own protocol, so the AWS SDK raises the same exception it would
 * against AWS: S3's XML `<Error>`, SNS' and CloudFormation's query-protocol `<ErrorResponse>`, and the
 * JSON protocol of SQS and Secrets Manager (with SQS' `x-amzn-query-error` for its older error codes), and
 * Lambda's REST-JSON (`x-amzn-errortype`).
 */
export function sendAwsError(
  reply: FastifyReply,
  service: string,
  status: number,
  code: string,
  message: string,
  /** S3's `<Resource>`, or more elements of S3's `<Error>` (`details`, e.g. RequestTimeTooSkewed's ServerTime). */
  extra?: string | { resource?: string; details?: Record<string, string> },
): FastifyReply {
  const { resource, details } = typeof extra === "string" ? { resource: extra, details: undefined } : (extra ?? {});
  const requestId = randomUUID();
  if (service === "sqs" || service === "secretsmanager") {
    const type = service === "sqs" ? `com.amazonaws.sqs#${jsonCode(code)}` : jsonCode(code);
    return reply
      .code(status)
      .header("content-type", service === "sqs" ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1")
      .header("x-amzn-requestid", requestId)
      .header("x-amzn-query-error", `${code};Sender`)
      .send(JSON.stringify({ __type: type, message }));
  }
  if (service === "lambda") {
    return reply
      .code(status)
      .header("content-type", "application/json")
      .header("x-amzn-requestid", requestId)
      .header("x-amzn-errortype", jsonCode(code))
      .send(JSON.stringify({ Type: "User", message }));
  }
  if (service === "sns" || service === "cloudformation") {
    return reply
      .code(status)
      .header("content-type", "text/xml")
      .send(
        `<ErrorResponse><Error><Type>Sender</Type><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
  }
  // S3. A HEAD response has no body; the SDK then knows the error by its status alone.
  return reply
    .code(status)
    .header("content-type", "application/xml")
    .header("x-amz-request-id", requestId)
    .send(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message>${resource ? `<Resource>${xml(resource)}</Resource>` : ""}${Object.entries(
        details ?? {},
      )
        .map(([name, value]) => `<${name}>${xml(value)}</${name}>`)
        .join("")}<RequestId>${requestId}</RequestId></Error>`,
    );
}

/** The JSON protocols name errors as exceptions: AccessDenied → AccessDeniedException. */
function jsonCode(code: string): string {
  if (code === "AccessDenied") return "AccessDeniedException";
  if (code === "InvalidAccessKeyId") return "UnrecognizedClientException";
  return code;
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
