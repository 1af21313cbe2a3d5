import { randomUUID } from "node:crypto";
import type { FauxqsParts } from "../fauxqs-internals.ts";
import { sendAwsError } from "./aws-errors.ts";
import { parseAuthorization } from "./sigv4.ts";

/**
 * CloudFormation's DescribeStacks for the one rehearsed stack (query protocol, XML), on the local cloud's
 * endpoint: its name, id, status and resolved outputs, as `aws cloudformation describe-stacks` shows them.
 * Requests reach it only after the gate has checked their signature and authorized them.
 */
export interface StackDescription {
  stackName: string;
  stackId: string;
  description?: string;
  created: Date;
  outputs: { key: string; value: string; description?: string }[];
}

export function installCloudFormation({ app }: FauxqsParts, describe: () => StackDescription): void {
  app.addHook("preHandler", (request, reply, done) => {
    if (parseAuthorization(request.headers)?.service !== "cloudformation") return done();
    const form = new URLSearchParams(
      typeof request.body === "string"
        ? request.body
        : Buffer.isBuffer(request.body)
          ? request.body.toString("utf8")
          : new URLSearchParams(request.body as Record<string, string>).toString(),
    );
    const action = form.get("Action");
    const stack = describe();
    if (action !== "DescribeStacks") {
      void sendAwsError(
        reply,
        "cloudformation",
        400,
        "InvalidAction",
        `cloudbridge local answers only DescribeStacks, not ${action ?? "(none)"}.`,
      );
      return;
    }
    const name = form.get("StackName");
    if (name && name !== stack.stackName && name !== stack.stackId) {
      void sendAwsError(reply, "cloudformation", 400, "ValidationError", `Stack with id ${name} does not exist`);
      return;
    }
    const outputs = stack.outputs
      .map(
        (o) =>
          `<member><OutputKey>${xml(o.key)}</OutputKey><OutputValue>${xml(o.value)}</OutputValue>${o.description ? `<Description>${xml(o.description)}</Description>` : ""}</member>`,
      )
      .join("");
    void reply
      .code(200)
      .header("content-type", "text/xml")
      .send(
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
          `<StackName>${xml(stack.stackName)}</StackName><StackId>${xml(stack.stackId)}</StackId>` +
          (stack.description ? `<Description>${xml(stack.description)}</Description>` : "") +
          `<CreationTime>${stack.created.toISOString()}</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>` +
          `<Outputs>${outputs}</Outputs></member></Stacks></DescribeStacksResult>` +
          `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
      );
  });
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
