import { spawn } from "node:child_process";
import type { Command } from "commander";
import { findFolder, readSettings } from "../../folder/index.ts";
import { readPageInfo } from "../../ui/page-file.ts";
import { CliError } from "../errors.ts";
import { emit } from "../output.ts";

export function openCommand(program: Command): void {
  program
    .command("open")
    .description("Open the running daemon's page in the browser (with its secret token), or print its URL when there is no browser.")
    .argument("[dir]", "the synced folder (default: the one around the current directory)")
    .option("--print", "only print the URL")
    .option("--json", "print as JSON")
    .action(async (dir: string | undefined, options: { print?: boolean; json?: boolean }) => {
      const root = await findFolder(dir);
      await readSettings(root);
      const page = await readPageInfo(root);
      if (!page)
        throw new CliError(
          "no-match",
          `no daemon serves a page for ${root}: start one with \`cloudbridge daemon ${root}\` (or \`cloudbridge service install\`).`,
        );
      const opener = options.print || options.json ? undefined : browserCommand();
      if (opener) {
        const child = spawn(opener, [page.url], { detached: true, stdio: "ignore" });
        child.on("error", () => undefined);
        child.unref();
      }
      emit(options.json, { url: page.url, opened: opener !== undefined }, () =>
        opener
          ? `opened ${page.origin} in the browser`
          : `open this address in a browser on this machine (it holds the page's secret):\n${page.url}`,
      );
    });
}

/** The desktop's opener, when there is a desktop to open on. */
function browserCommand(): string | undefined {
  if (process.platform === "darwin") return "open";
  if (process.platform === "win32") return undefined;
  return process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? "xdg-open" : undefined;
}
