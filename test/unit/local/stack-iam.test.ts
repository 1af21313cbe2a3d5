import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { authorize } from "../../../local/stack/authorizer.ts";
import { ACCOUNT_ID, IamDirectory } from "../../../local/stack/iam.ts";

const allow = (action: string, resource: string) => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: action, Resource: resource }],
});
const get = (key: string) => ({ action: "s3:GetObject", resource: `arn:aws:s3:::b/${key}`, context: {} });

describe("the rehearsal's IAM: what a principal's policies add up to", () => {
  it("a user gets its inline policies, its managed policies and those of its groups; an explicit deny anywhere wins", async () => {
    const iam = new IamDirectory();
    const user = iam.addUser("agent", "/cloudbridge/");
    assert.equal(user.arn, `arn:aws:iam::${ACCOUNT_ID}:user/cloudbridge/agent`);
    assert.equal((await authorize(iam, user, get("a/x"), undefined, "us-east-1")).allowed, false, "nothing attached: implicitly denied");

    iam.addGroup("readers");
    iam.addUserToGroup("agent", "readers");
    const managed = `arn:aws:iam::${ACCOUNT_ID}:policy/read-a`;
    iam.addManagedPolicy(managed, allow("s3:GetObject", "arn:aws:s3:::b/a/*"));
    iam.attachManaged({ groups: ["readers"] }, managed);
    assert.equal((await authorize(iam, user, get("a/x"), undefined, "us-east-1")).allowed, true, "through the group's managed policy");
    assert.equal((await authorize(iam, user, get("b/x"), undefined, "us-east-1")).allowed, false);

    iam.attachInline({ users: ["agent"] }, "read-b", allow("s3:GetObject", "arn:aws:s3:::b/b/*"));
    assert.equal((await authorize(iam, user, get("b/x"), undefined, "us-east-1")).allowed, true, "through its inline policy");

    const bucketPolicy = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Deny", Principal: { AWS: "*" }, Action: "s3:*", Resource: "arn:aws:s3:::b/a/secret" }],
    };
    const denied = await authorize(iam, user, get("a/secret"), bucketPolicy, "us-east-1");
    assert.deepEqual([denied.allowed, denied.explicitDeny], [false, true], "the bucket policy's deny wins over the group's allow");
  });

  it("a role's key acts with the role's policies only; a removed (inactive) key is unknown", async () => {
    const iam = new IamDirectory();
    iam.addRole("fn");
    iam.attachInline({ roles: ["fn"] }, "publish", allow("sns:Publish", "arn:aws:sns:us-east-1:000000000000:t"));
    const key = iam.createAccessKey(iam.principal("role", "fn"));
    assert.equal(iam.accessKey(key.accessKeyId)?.principal.arn, `arn:aws:iam::${ACCOUNT_ID}:role/fn`);
    const publish = { action: "sns:Publish", resource: "arn:aws:sns:us-east-1:000000000000:t", context: {} };
    assert.equal((await authorize(iam, key.principal, publish, undefined, "us-east-1")).allowed, true);
    assert.equal((await authorize(iam, key.principal, get("a/x"), undefined, "us-east-1")).allowed, false);
    key.active = false;
    assert.equal(iam.accessKey(key.accessKeyId), undefined);
  });
});
