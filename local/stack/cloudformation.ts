import { randomUUID } from "node:crypto";
import type { FauxqsParts } from "../fauxqs-internals.ts";
import { sendAwsError } from "./aws-errors.ts";
import { parseAuthorization } from "./sigv4.ts";

/**
 * CloudFormation's DescribeStacks for the rehearsed stack and its nested stacks (query protocol, XML), on
 * the local cloud's endpoint: each one's name, id, status and resolved outputs, as `aws cloudformation
 * describe-stacks` shows them; without a name, every stack.
 * Requests reach it only after the gate has checked their signature and authorized them.
 */
export interface StackDescription {
  stackName: string;
  stackId: string;
  description?: string;
  created: Date;
  /** A nested stack's parent and root stack ids. */
  parentId?: string;
  rootId?: string;
  outputs: { key: string; value: string; description?: string }[];
}

export function installCloudFormation({ app }: FauxqsParts, describe: () => readonly StackDescription[]): void {
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
    const chosen = describe().filter((stack) => !name || name === stack.stackName || name === stack.stackId);
    if (chosen.length === 0) {
      void sendAwsError(reply, "cloudformation", 400, "ValidationError", `Stack with id ${name} does not exist`);
      return;
    }
    const members = chosen.map((stack) => {
      const outputs = stack.outputs
        .map(
          (o) =>
            `<member><OutputKey>${xml(o.key)}</OutputKey><OutputValue>${xml(o.value)}</OutputValue>${o.description ? `<Description>${xml(o.description)}</Description>` : ""}</member>`,
        )
        .join("");
      return (
        `<member><StackName>${xml(stack.stackName)}</StackName><StackId>${xml(stack.stackId)}</StackId>` +
        (stack.description ? `<Description>${xml(stack.description)}</Description>` : "") +
        (stack.parentId ? `<ParentId>${xml(stack.parentId)}</ParentId><RootId>${xml(stack.rootId ?? stack.parentId)}</RootId>` : "") +
        `<CreationTime>${stack.created.toISOString()}</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>` +
        `<Outputs>${outputs}</Outputs></member>`
      );
    });
    void reply
      .code(200)
      .header("content-type", "text/xml")
      .send(
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks>${members.join("")}</Stacks></DescribeStacksResult>` +
          `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
      );
  });
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
