import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import type { Command } from "commander";
import { COMMANDS, type CommandDescriptor } from "../../../../agent/cli/command-list.ts";
import { buildProgram } from "../../../../agent/cli/main.ts";
import { SETTING_NAMES } from "../../../../agent/folder/index.ts";
import { DEFAULT_GRACE_MS } from "../../../../gitstore/index.ts";
import { loadedModulesArgs } from "../../../helpers/loaded-modules.ts";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const MAIN = join(ROOT, "agent/cli/main.ts");

/** Every command and subcommand, with the names of the commands above it. */
function* everyCommand(
  list: readonly CommandDescriptor[],
  path: string[] = [],
): Generator<{ path: string[]; descriptor: CommandDescriptor }> {
  for (const descriptor of list) {
    yield { path: [...path, descriptor.name], descriptor };
    yield* everyCommand(descriptor.subcommands ?? [], [...path, descriptor.name]);
  }
}

/** Help text as one line: commander wraps descriptions to the terminal's width. */
const flat = (text: string) => text.replace(/\s+/g, " ");

function commandAt(path: string[]): Command {
  let command = buildProgram();
  for (const name of path) command = command.commands.find((c) => c.name() === name)!;
  return command;
}

/** The files a `cloudbridge …` process loaded, relative to the repository. */
async function modulesLoadedBy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "cloudbridge-modules-"));
  try {
    const file = join(dir, "modules");
    // The command may fail (a folder that is not one): what it loaded until then is what is asked.
    await promisify(execFile)(process.execPath, ["--disable-warning=ExperimentalWarning", ...loadedModulesArgs(), MAIN, ...args], {
      env: { ...process.env, ...env, CLOUDBRIDGE_TEST_LOADED_MODULES: file },
    }).catch(() => undefined);
    return (await readFile(file, "utf8"))
      .split("\n")
      .filter((url) => url.startsWith("file:") && !url.includes("/test/helpers/"))
      .map((url) => relative(ROOT, fileURLToPath(url)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the CLI's commands", () => {
  it("--help lists every command with its description, and each group's help its subcommands", () => {
    const help = buildProgram().helpInformation();
    const listed = help
      .slice(help.indexOf("Commands:"))
      .split("\n")
      .flatMap((line) => /^ {2}(\S+)/.exec(line)?.[1] ?? []);
    assert.deepEqual(listed, [...COMMANDS.map((c) => c.name), "help"]);
    for (const { name, description } of COMMANDS) assert.ok(flat(help).includes(flat(description)), name);
    for (const { path, descriptor } of everyCommand(COMMANDS)) {
      const own = flat(commandAt(path).helpInformation());
      for (const sub of descriptor.subcommands ?? [])
        assert.ok(own.includes(`${sub.name} `) && own.includes(flat(sub.description)), sub.name);
      for (const [flags, description] of [...(descriptor.requiredOptions ?? []), ...(descriptor.options ?? [])])
        assert.ok(own.includes(flags) && own.includes(flat(description)), `${path.join(" ")} ${flags}`);
    }
  });

  it("every command runs something: its implementation's module and export resolve to a function", async () => {
    for (const { path, descriptor } of everyCommand(COMMANDS)) {
      if (descriptor.subcommands) continue;
      assert.ok(descriptor.load, `${path.join(" ")} has no implementation`);
      assert.equal(typeof (await descriptor.load()), "function", path.join(" "));
    }
  });

  it("says the folder's setting names and gitstore's default grace period as they are", () => {
    const limit = COMMANDS.find((c) => c.name === "limit")!;
    assert.ok(limit.description.includes(SETTING_NAMES.uploadLimit) && limit.description.includes(SETTING_NAMES.downloadLimit));
    const grace = COMMANDS.find((c) => c.name === "compact")!.options!.find(([flags]) => flags.startsWith("--grace"))!;
    assert.equal(grace[2], String(DEFAULT_GRACE_MS / 60_000));
  });

  it("--version and a command's --help load commander and the command list only, none of the implementations", async () => {
    for (const args of [["--version"], ["status", "--help"], ["key", "add", "--help"]]) {
      const loaded = await modulesLoadedBy(args);
      const ours = loaded.filter((path) => !path.startsWith("node_modules/"));
      assert.deepEqual(ours.sort(), ["agent/cli/command-list.ts", "agent/cli/main.ts"], args.join(" "));
      const packages = new Set(loaded.filter((path) => path.startsWith("node_modules/")).map((path) => path.split("/")[1]));
      assert.deepEqual([...packages], ["commander"], args.join(" "));
    }
  });

  it("status reads the daemon's status file without loading the daemon: no listener, watcher or page", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cloudbridge-not-a-folder-"));
    try {
      const loaded = await modulesLoadedBy(["status", "--offline", dir]);
      assert.ok(loaded.includes("agent/cli/commands/status.ts"), "the status command ran");
      for (const heavy of ["agent/daemon.ts", "node_modules/@xmpp/", "node_modules/@aws-sdk/client-sqs/", "node_modules/@parcel/watcher/"])
        assert.deepEqual(
          loaded.filter((path) => path.startsWith(heavy)),
          [],
          heavy,
        );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("init --remote loads no CloudFormation or Secrets Manager client: only onboarding from a stack (--stack) uses them", async () => {
    // A bucket that refuses every request: init reaches it, is refused, and stops, having loaded all it would use.
    const refusing = createServer((_request, response) => {
      response.writeHead(403, { "content-type": "application/xml" });
      response.end("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    });
    await new Promise<void>((done) => refusing.listen(0, "127.0.0.1", done));
    const dir = await mkdtemp(join(tmpdir(), "cloudbridge-init-modules-"));
    try {
      const endpoint = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
      const loaded = await modulesLoadedBy(["init", join(dir, "folder"), "--remote", "s3://bucket/repo", "--endpoint", endpoint], {
        HOME: dir,
        AWS_ACCESS_KEY_ID: "key",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_REGION: "us-east-1",
      });
      assert.ok(loaded.includes("agent/folder/create.ts"), "init ran");
      for (const unused of [
        "node_modules/@aws-sdk/client-cloudformation/",
        "node_modules/@aws-sdk/client-secrets-manager/",
        "agent/onboard/from-stack.ts",
      ])
        assert.deepEqual(
          loaded.filter((path) => path.startsWith(unused)),
          [],
          unused,
        );
    } finally {
      refusing.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
