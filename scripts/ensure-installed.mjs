// Runs before `npm start` and `npm test` under whatever Node the machine has (Node 20 here): makes sure
// the project's dependencies, including the Node 24 binary they carry (npm package `node`), are installed
// and match package-lock.json. npm puts node_modules/.bin first on PATH for the script that follows, so
// that script runs on Node 24 even when the system Node is older.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const installed = existsSync("node_modules/.package-lock.json")
  ? JSON.parse(readFileSync("node_modules/.package-lock.json", "utf8"))
  : undefined;
const inSync =
  installed &&
  existsSync("node_modules/.bin/node") &&
  Object.entries(lock.packages ?? {}).every(
    ([path, entry]) => path === "" || entry.optional || installed.packages?.[path]?.version === entry.version,
  );

if (!inSync) {
  console.error("cloudbridge: installing dependencies (npm ci)…");
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  if (result.status !== 0) {
    console.error("cloudbridge: `npm ci` failed; fix the error above and run the command again.");
    process.exit(result.status ?? 1);
  }
}
