import { Stack, Validations } from "aws-cdk-lib";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type { IConstruct } from "constructs";

/**
 * cdk-nag reports each wildcard resource of a policy as its own finding (`AwsSolutions-IAM5[Resource::…]`),
 * so each is acknowledged by name: a new wildcard added later is a new, unacknowledged finding.
 */
export function acknowledgePrefixWildcards(construct: IConstruct, bucket: s3.IBucket, prefixes: readonly string[], reason: string): void {
  const stack = Stack.of(bucket);
  const logicalId = stack.resolve((bucket.node.defaultChild as s3.CfnBucket).logicalId) as string;
  for (const prefix of prefixes) {
    Validations.of(construct).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`, reason });
  }
}
