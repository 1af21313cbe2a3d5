import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
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

export async function serviceInstallCommand(dir: string, options: { start: boolean; json?: boolean }): Promise<void> {
  await readSettings(resolve(dir));
  const result = await installUserUnit(specFor(dir), { start: options.start });
  emit(options.json, result, () =>
    [
      `wrote ${result.unitPath}`,
      result.started ? `started ${result.name}; logs: journalctl --user -u ${result.name} -f` : result.note,
    ].join("\n"),
  );
}

export async function serviceUninstallCommand(dir: string): Promise<void> {
  const path = await uninstallUserUnit(resolve(dir));
  process.stdout.write(`removed ${path}\n`);
}

export async function serviceShowCommand(dir: string, options: { launchd?: boolean }): Promise<void> {
  await readSettings(resolve(dir));
  process.stdout.write(options.launchd ? renderLaunchdPlist(specFor(dir)) : renderUnit(specFor(dir)));
}
