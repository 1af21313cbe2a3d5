import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LocalCloudError } from "../errors.ts";

/**
 * A synthesized cloud assembly (`cdk.out`) as CloudFormation would receive it: the stack's template, its
 * name, and where each asset (a function's bundle) was written. Only what `cdk deploy` would upload is
 * read: the template and the asset folders named by the asset manifest.
 */
export interface CloudAssemblyStack {
  readonly stackName: string;
  readonly template: Template;
  /** Asset hash → the folder (a function's bundle) or file (a nested stack's template) in cdk.out holding what would be uploaded. */
  readonly assets: ReadonlyMap<string, string>;
}

export interface Template {
  Description?: string;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, TemplateResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

/** The stack cannot be deployed here; the message names the resource or file and what is wrong. */
export class TemplateError extends LocalCloudError {
  constructor(message: string) {
    super("local-stack-invalid", message);
  }
}

interface Manifest {
  artifacts?: Record<string, { type: string; properties?: { templateFile?: string; stackName?: string }; displayName?: string }>;
}

/** Reads the one stack of a cloud assembly (or the one named `stackName` when there are several). */
export function readCloudAssembly(dir: string, stackName?: string): CloudAssemblyStack {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch (error) {
    throw new TemplateError(
      `${dir} is not a synthesized CDK app (no readable manifest.json: ${(error as Error).message}). Run \`npx cdk synth\` and pass its cdk.out folder.`,
    );
  }
  const stacks = Object.entries(manifest.artifacts ?? {}).filter(([, a]) => a.type === "aws:cloudformation:stack");
  const chosen = stackName ? stacks.filter(([id, a]) => (a.properties?.stackName ?? id) === stackName) : stacks;
  if (chosen.length !== 1) {
    const names = stacks.map(([id, a]) => a.properties?.stackName ?? id).join(", ") || "none";
    throw new TemplateError(`${dir} holds the stacks ${names}: name exactly one${stackName ? ` (not ${stackName})` : ""}.`);
  }
  const [id, artifact] = chosen[0]!;
  const templateFile = artifact.properties?.templateFile;
  if (!templateFile) throw new TemplateError(`the stack ${id} in ${dir} names no template file.`);
  const template = JSON.parse(readFileSync(join(dir, templateFile), "utf8")) as Template;
  const assets = new Map<string, string>();
  try {
    const assetManifest = JSON.parse(readFileSync(join(dir, `${id}.assets.json`), "utf8")) as {
      files?: Record<string, { source: { path: string; packaging?: string } }>;
    };
    for (const [hash, file] of Object.entries(assetManifest.files ?? {})) assets.set(hash, join(dir, file.source.path));
  } catch {
    // A stack without assets has no asset manifest.
  }
  return { stackName: artifact.properties?.stackName ?? id, template, assets };
}

/**
 * A nested stack's template, from the asset its `TemplateURL` names (`…/<asset hash>.json` in CDK's
 * bootstrap bucket): the file `cdk deploy` would upload there.
 */
export function readNestedTemplate(id: string, templateUrl: string, assets: ReadonlyMap<string, string>): Template {
  const hash = templateUrl
    .split("/")
    .at(-1)!
    .replace(/\.json$/, "");
  const file = assets.get(hash);
  if (!file) throw new TemplateError(`${id}: its template ${templateUrl} is not an asset in cdk.out (run \`npx cdk synth\` again).`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Template;
  } catch (error) {
    throw new TemplateError(`${id}: its template ${file} cannot be read: ${(error as Error).message}`);
  }
}

/** What a resource answers to `Ref` and `Fn::GetAtt`, once deployed. */
export interface Deployed {
  ref: string;
  attributes: Record<string, string>;
}

export interface ResolveContext {
  readonly pseudo: Readonly<Record<string, string>>;
  readonly parameters: Readonly<Record<string, string>>;
  readonly deployed: ReadonlyMap<string, Deployed>;
}

/**
 * Folds CloudFormation's intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
 * Fn::If over the template's Conditions is not supported) into plain values. An intrinsic it does not
 * know stops the deployment with its name, rather than deploying something half-resolved.
 */
export function resolve(value: unknown, context: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, context));
  if (!value || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    const [name] = keys as [string];
    const argument = object[name];
    if (name === "Ref") return ref(String(argument), context);
    if (name === "Fn::GetAtt") {
      const [id, attribute] = (typeof argument === "string" ? splitAttribute(argument) : argument) as [string, string];
      const resource = context.deployed.get(id);
      const found = resource?.attributes[attribute];
      if (found === undefined)
        throw new TemplateError(`Fn::GetAtt ${id}.${attribute}: ${resource ? "no such attribute" : "not deployed"}.`);
      return found;
    }
    if (name === "Fn::Join") {
      const [separator, parts] = argument as [string, unknown[]];
      return (resolve(parts, context) as unknown[]).map(String).join(separator);
    }
    if (name === "Fn::Select") {
      const [index, list] = argument as [unknown, unknown];
      return (resolve(list, context) as unknown[])[Number(resolve(index, context))];
    }
    if (name === "Fn::Split") {
      const [separator, text] = argument as [string, unknown];
      return String(resolve(text, context)).split(separator);
    }
    if (name === "Fn::Sub") {
      const [text, variables] = (typeof argument === "string" ? [argument, {}] : argument) as [string, Record<string, unknown>];
      return text.replace(/\$\{([^}!]+)\}/g, (_, expression: string) => {
        if (expression in variables) return String(resolve(variables[expression], context));
        if (expression.includes(".")) {
          const [id, attribute] = splitAttribute(expression);
          return String(resolve({ "Fn::GetAtt": [id, attribute] }, context));
        }
        return ref(expression, context);
      });
    }
    if (name.startsWith("Fn::")) throw new TemplateError(`the intrinsic function ${name} is not rehearsed by cloudbridge local.`);
  }
  return Object.fromEntries(keys.map((k) => [k, resolve(object[k], context)]));
}

/** `Id.Attribute` (the attribute may itself hold dots, as a nested stack's `Outputs.<Key>` does). */
function splitAttribute(text: string): [string, string] {
  const dot = text.indexOf(".");
  return [text.slice(0, dot), text.slice(dot + 1)];
}

function ref(name: string, context: ResolveContext): string {
  if (name in context.pseudo) return context.pseudo[name]!;
  if (name in context.parameters) return context.parameters[name]!;
  const resource = context.deployed.get(name);
  if (!resource) throw new TemplateError(`Ref ${name}: not a parameter, a pseudo parameter or a deployed resource.`);
  return resource.ref;
}

/** The logical ids a value refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub). */
export function referencedIds(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => referencedIds(v, into));
  else if (value && typeof value === "object") {
    for (const [key, argument] of Object.entries(value as Record<string, unknown>)) {
      if (key === "Ref" && typeof argument === "string") into.add(argument);
      else if (key === "Fn::GetAtt") into.add((typeof argument === "string" ? argument.split(".") : (argument as string[]))[0]!);
      else if (key === "Fn::Sub") {
        const text = typeof argument === "string" ? argument : (argument as [string])[0];
        for (const match of text.matchAll(/\$\{([^}.!]+)/g)) into.add(match[1]!);
        if (Array.isArray(argument)) referencedIds(argument[1], into);
      } else referencedIds(argument, into);
    }
  }
  return into;
}

/** The resources in an order where each comes after everything it refers to or depends on, as CloudFormation creates them. */
export function deploymentOrder(template: Template): string[] {
  const resources = template.Resources;
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string) => {
    if (state.get(id) === "done") return;
    if (state.get(id) === "visiting") throw new TemplateError(`the resource ${id} depends on itself through a cycle.`);
    state.set(id, "visiting");
    const resource = resources[id]!;
    const dependsOn = resource.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
    for (const dependency of [...dependsOn, ...referencedIds(resource.Properties)]) if (dependency in resources) visit(dependency);
    state.set(id, "done");
    order.push(id);
  };
  for (const id of Object.keys(resources)) visit(id);
  return order;
}
