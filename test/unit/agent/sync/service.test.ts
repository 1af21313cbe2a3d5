import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { installUserUnit, renderLaunchdPlist, renderUnit, serviceEnv, unitName } from "../../../../agent/service/systemd.ts";
import { tempDir } from "../../../helpers/git.ts";

describe("running the daemon as a service", () => {
  const spec = {
    folder: "/home/ann/My Sync",
    command: ["/opt/node", "--disable-warning=ExperimentalWarning", "/opt/cb/agent/cli/main.ts"],
    env: { AWS_PROFILE: "home", AWS_REGION: "eu-west-1" },
  };

  it("writes a systemd user unit that restarts the daemon and carries no secret", async () => {
    const unit = renderUnit(spec);
    assert.match(
      unit,
      /^ExecStart=\/opt\/node --disable-warning=ExperimentalWarning \/opt\/cb\/agent\/cli\/main\.ts daemon "\/home\/ann\/My Sync"$/m,
    );
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^Environment=AWS_PROFILE=home$/m);
    assert.match(unit, /^WantedBy=default\.target$/m);
    assert.deepEqual(serviceEnv({ AWS_REGION: "x", AWS_SECRET_ACCESS_KEY: "s", AWS_SESSION_TOKEN: "t", CLOUDBRIDGE_XMPP_PASSWORD: "p" }), {
      AWS_REGION: "x",
    });
    assert.match(unitName(spec.folder), /^cloudbridge-My_Sync-[0-9a-f]{8}\.service$/);
    assert.match(renderLaunchdPlist(spec), /<string>\/home\/ann\/My Sync<\/string>/);

    const home = await tempDir("unit");
    try {
      const result = await installUserUnit(spec, { start: false, env: { XDG_CONFIG_HOME: home.path } });
      assert.equal(result.started, false);
      assert.match(result.note!, /systemctl --user enable --now cloudbridge-My_Sync-/);
      assert.equal(await readFile(result.unitPath, "utf8"), unit);
      assert.ok(result.unitPath.startsWith(`${home.path}/systemd/user/`));
    } finally {
      await home.remove();
    }
  });
});
