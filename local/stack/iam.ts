import { randomBytes } from "node:crypto";
import { TemplateError } from "./template.ts";

/**
 * The stack's identities as IAM keeps them: users (with a path), roles, groups, inline and managed
 * policies attached to each, and access keys. `identityPolicies` answers what IAM evaluates for a
 * principal: its inline policies, its managed policies, and those of the groups it belongs to.
 */
export const ACCOUNT_ID = "000000000000";

export type PolicyDocument = { Version?: string; Statement: unknown };

export interface IamPrincipal {
  readonly kind: "user" | "role";
  readonly name: string;
  readonly arn: string;
  /** IAM's unique id (AIDA… for a user, AROA… for a role), what `aws:userid` holds. */
  readonly id: string;
}

interface Holder extends IamPrincipal {
  readonly inline: Map<string, PolicyDocument>;
  readonly managed: Set<string>;
}

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly principal: IamPrincipal;
  active: boolean;
}

export class IamDirectory {
  private readonly users = new Map<string, Holder & { groups: Set<string>; tags: Map<string, string> }>();
  private readonly roles = new Map<string, Holder>();
  private readonly groups = new Map<string, Holder>();
  private readonly managedPolicies = new Map<string, PolicyDocument>();
  private readonly keys = new Map<string, AccessKey>();

  addUser(name: string, path = "/", tags: readonly { Key: string; Value: string }[] = []): IamPrincipal {
    const user = { kind: "user" as const, name, arn: `arn:aws:iam::${ACCOUNT_ID}:user${path}${name}`, id: uniqueId("AIDA") };
    const tagMap = new Map(tags.map((tag) => [tag.Key, tag.Value]));
    this.users.set(name, { ...user, inline: new Map(), managed: new Set(), groups: new Set(), tags: tagMap });
    return user;
  }

  /** A user's tags, which IAM puts in every request's context as `aws:PrincipalTag/<key>` (the stack grants repositories by them). */
  principalTags(principal: IamPrincipal): Record<string, string> {
    if (principal.kind !== "user") return {};
    return Object.fromEntries([...this.user(principal.name).tags].map(([key, value]) => [`aws:PrincipalTag/${key}`, value]));
  }

  addRole(name: string, path = "/"): IamPrincipal {
    const role = { kind: "role" as const, name, arn: `arn:aws:iam::${ACCOUNT_ID}:role${path}${name}`, id: uniqueId("AROA") };
    this.roles.set(name, { ...role, inline: new Map(), managed: new Set() });
    return role;
  }

  addGroup(name: string, path = "/"): string {
    const arn = `arn:aws:iam::${ACCOUNT_ID}:group${path}${name}`;
    this.groups.set(name, { kind: "user", name, arn, id: uniqueId("AGPA"), inline: new Map(), managed: new Set() });
    return arn;
  }

  addUserToGroup(user: string, group: string): void {
    this.user(user).groups.add(group);
  }

  addManagedPolicy(arn: string, document: PolicyDocument): void {
    this.managedPolicies.set(arn, document);
  }

  hasManagedPolicy(arn: string): boolean {
    return this.managedPolicies.has(arn);
  }

  attachInline(to: { users?: string[]; roles?: string[]; groups?: string[] }, name: string, document: PolicyDocument): void {
    for (const holder of this.holders(to)) holder.inline.set(name, document);
  }

  attachManaged(to: { users?: string[]; roles?: string[]; groups?: string[] }, arn: string): void {
    for (const holder of this.holders(to)) holder.managed.add(arn);
  }

  /** A new access key for a user or role (roles get one so the local functions can sign as their role). */
  createAccessKey(principal: IamPrincipal, fixed?: { accessKeyId: string; secretAccessKey: string }): AccessKey {
    const key: AccessKey = {
      accessKeyId: fixed?.accessKeyId ?? uniqueId(principal.kind === "user" ? "AKIA" : "ASIA"),
      secretAccessKey: fixed?.secretAccessKey ?? randomBytes(30).toString("base64").replace(/[+/=]/g, "").slice(0, 40),
      principal,
      active: true,
    };
    this.keys.set(key.accessKeyId, key);
    return key;
  }

  /** Deletes a key (a stack update that removed it): requests signed with it are refused from now on. */
  deleteAccessKey(accessKeyId: string): boolean {
    return this.keys.delete(accessKeyId);
  }

  accessKey(accessKeyId: string): AccessKey | undefined {
    const key = this.keys.get(accessKeyId);
    return key?.active ? key : undefined;
  }

  /** Every policy IAM evaluates as the principal's identity policies, named for explanations. */
  identityPolicies(principal: IamPrincipal): { name: string; policy: PolicyDocument }[] {
    const holders: Holder[] =
      principal.kind === "role"
        ? [this.role(principal.name)]
        : [this.user(principal.name), ...[...this.user(principal.name).groups].map((g) => this.group(g))];
    const policies: { name: string; policy: PolicyDocument }[] = [];
    for (const holder of holders) {
      for (const [name, policy] of holder.inline) policies.push({ name: `${holder.name}/${name}`, policy });
      for (const arn of holder.managed) {
        const policy = this.managedPolicies.get(arn);
        if (policy) policies.push({ name: arn, policy });
      }
    }
    return policies;
  }

  /** The principal a user or role acts as (without its policies, which are looked up at each decision). */
  principal(kind: "user" | "role", name: string): IamPrincipal {
    const { arn, id } = kind === "user" ? this.user(name) : this.role(name);
    return { kind, name, arn, id };
  }

  private holders(to: { users?: string[]; roles?: string[]; groups?: string[] }): Holder[] {
    return [
      ...(to.users ?? []).map((n) => this.user(n)),
      ...(to.roles ?? []).map((n) => this.role(n)),
      ...(to.groups ?? []).map((n) => this.group(n)),
    ];
  }

  private user(name: string) {
    const user = this.users.get(name);
    if (!user) throw new TemplateError(`IAM: no user named ${name} in this stack.`);
    return user;
  }

  private role(name: string) {
    const role = this.roles.get(name);
    if (!role) throw new TemplateError(`IAM: no role named ${name} in this stack.`);
    return role;
  }

  private group(name: string) {
    const group = this.groups.get(name);
    if (!group) throw new TemplateError(`IAM: no group named ${name} in this stack.`);
    return group;
  }
}

function uniqueId(prefix: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return prefix + [...randomBytes(16)].map((b) => alphabet[b % 32]).join("");
}
