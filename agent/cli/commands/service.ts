import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { installUserUnit, renderLaunchdPlist, renderUnit, serviceEnv, uninstallUserUnit, type ServiceSpec } from "../../service/systemd.ts";
import { readSettings } from "../../folder/index.ts";
import { emit } from "../output.ts";

/**
 * `bin/cloudbridge` by its absolute path, as a service manager needs it: the daemon starts with the same
 * Node settings as the CLI (a small young generation, the compile cache), which keep its memory down.
 */
function specFor(dir: string): ServiceSpec {
  const launcher = fileURLToPath(new URL("../../../bin/cloudbridge", import.meta.url));
  return { folder: resolve(dir), command: [launcher], env: serviceEnv() };
}

export function serviceCommand(program: Command): void {
  const service = program
    .command("service")
    .description("Run the daemon as a service that starts at login and restarts on failure (systemd user unit; launchd on macOS).");
  service
    .command("install")
    .description("Install (and start) a systemd user unit that runs `cloudbridge daemon DIR`.")
    .argument("[dir]", "the synced folder", ".")
    .option("--no-start", "write the unit but do not enable or start it")
    .option("--json", "print the result as JSON")
    .action(async (dir: string, options: { start: boolean; json?: boolean }) => {
      await readSettings(resolve(dir));
      const result = await installUserUnit(specFor(dir), { start: options.start });
      emit(options.json, result, () =>
        [
          `wrote ${result.unitPath}`,
          result.started ? `started ${result.name}; logs: journalctl --user -u ${result.name} -f` : result.note,
        ].join("\n"),
      );
    });
  service
    .command("uninstall")
    .description("Stop and remove the folder's systemd user unit.")
    .argument("[dir]", "the synced folder", ".")
    .action(async (dir: string) => {
      const path = await uninstallUserUnit(resolve(dir));
      process.stdout.write(`removed ${path}\n`);
    });
  service
    .command("show")
    .description("Print the unit (or, with --launchd, the macOS launchd agent plist) without installing it.")
    .argument("[dir]", "the synced folder", ".")
    .option("--launchd", "print a launchd plist for ~/Library/LaunchAgents instead")
    .action(async (dir: string, options: { launchd?: boolean }) => {
      await readSettings(resolve(dir));
      process.stdout.write(options.launchd ? renderLaunchdPlist(specFor(dir)) : renderUnit(specFor(dir)));
    });
}
