import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { BucketLayout } from "../protocol/index.ts";
import { AWS_LIMITS } from "./limits.ts";
import { acknowledgePrefixWildcards } from "./nag.ts";

/** The tag an agent's IAM user carries for each repository it may sync (value {@link REPO_TAG_VALUE}). */
export const repoTagKey = (repo: string) => `cloudbridge/repo/${repo}`;
export const REPO_TAG_VALUE = "sync";

/**
 * Access to the repositories for every agent, by attribute (ABAC): one set of customer managed policies,
 * shared by all agents through groups, with one statement per repository that applies only to a
 * principal carrying that repository's tag (`aws:PrincipalTag/cloudbridge/repo/<repo>` = `sync`).
 * An agent's user carries one tag per repository it syncs.
 *
 * Why: the policies grow with the repositories, never with the agents, so 500 agents cost no more IAM
 * policy than one; an agent's own user keeps only a small inline policy (its queue and its secret).
 * Listing every repository's prefixes in each agent's policy hit IAM's 2,048 characters per user at
 * about 5 repositories. Groups per repository would stop at IAM's 10 groups per user.
 *
 * The tags are the grant: only an administrator can tag a user (agents have no `iam:*`), and an agent
 * cannot put session tags on its key (it has no `sts:*`, so no GetFederationToken or TagSession).
 */
export class RepositoryAccess extends Construct {
  readonly groups: iam.Group[] = [];
  readonly policies: iam.ManagedPolicy[] = [];

  constructor(scope: Construct, id: string, props: { bucket: s3.IBucket; layout: BucketLayout; repos: readonly string[] }) {
    super(scope, id);
    const { bucket, layout } = props;
    // Measured with a bucket ARN at its longest, as IAM will count it once CloudFormation resolves it.
    const longestArn = `arn:aws-us-gov:s3:::${"x".repeat(63)}`;
    const budget = AWS_LIMITS.managedPolicyChars.max - 100; // {"Version":"2012-10-17","Statement":[...]}
    const shards: { repos: string[]; chars: number }[] = [{ repos: [], chars: markerStatement(longestArn, layout).length }];
    for (const repo of props.repos) {
      const chars = repoStatements(longestArn, layout, repo).reduce((sum, s) => sum + JSON.stringify(s.toJSON()).length + 1, 0);
      const last = shards.at(-1)!;
      if (last.chars + chars > budget && last.repos.length > 0) shards.push({ repos: [repo], chars });
      else {
        last.repos.push(repo);
        last.chars += chars;
      }
    }
    shards.forEach((shard, index) => {
      const policy = new iam.ManagedPolicy(this, `Repositories${index + 1}`, {
        description: `cloudbridge: read and write the repositories ${shard.repos.join(", ")} for agents tagged with them`.slice(0, 1000),
        statements: [
          ...(index === 0 ? [markerStatementOf(bucket.bucketArn, layout)] : []),
          ...shard.repos.flatMap((repo) => repoStatements(bucket.bucketArn, layout, repo)),
        ],
      });
      acknowledgePrefixWildcards(
        policy,
        bucket,
        shard.repos.flatMap((repo) => repoPrefixes(layout, repo)),
        "Object actions end in a wildcard only below one repository's prefixes, and apply only to agents tagged with that " +
          "repository: git packs, annex keys and agent records have names chosen at run time. ListBucket is conditioned on " +
          "s3:prefix to the same prefixes.",
      );
      this.policies.push(policy);
    });
    for (let start = 0; start < this.policies.length; start += AWS_LIMITS.managedPoliciesPerPrincipal.max) {
      const group = new iam.Group(this, `Agents${this.groups.length + 1}`, {
        managedPolicies: this.policies.slice(start, start + AWS_LIMITS.managedPoliciesPerPrincipal.max),
      });
      this.groups.push(group);
    }
  }
}

/** The three prefixes one repository owns: its git repository, its annexed content, its agents' records. */
export const repoPrefixes = (layout: BucketLayout, repo: string) => [
  layout.repoRoot(repo),
  layout.annexRoot(repo),
  layout.agentsRoot(repo),
];

/** What a principal tagged with `repo` may do: read and write below the repository's prefixes, and list only them. */
export function repoStatements(bucketArn: string, layout: BucketLayout, repo: string): iam.PolicyStatement[] {
  const tagged = { [`aws:PrincipalTag/${repoTagKey(repo)}`]: REPO_TAG_VALUE };
  const prefixes = repoPrefixes(layout, repo);
  return [
    new iam.PolicyStatement({
      actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      resources: prefixes.map((prefix) => `${bucketArn}/${prefix}*`),
      conditions: { StringEquals: tagged },
    }),
    new iam.PolicyStatement({
      actions: ["s3:ListBucket"],
      resources: [bucketArn],
      conditions: { StringEquals: tagged, StringLike: { "s3:prefix": prefixes.map((prefix) => `${prefix}*`) } },
    }),
  ];
}

/** Every agent reads the format marker and README (they are written at onboarding, with If-None-Match: *). */
function markerStatementOf(bucketArn: string, layout: BucketLayout): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: "ReadAndCreateBucketMarker",
    actions: ["s3:GetObject", "s3:PutObject"],
    resources: [`${bucketArn}/${layout.formatMarker()}`, `${bucketArn}/${layout.readme()}`],
  });
}

const markerStatement = (bucketArn: string, layout: BucketLayout) => JSON.stringify(markerStatementOf(bucketArn, layout).toJSON());
