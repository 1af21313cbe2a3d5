import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AGENT_ID_KEY,
  BUCKET_ACCESS_SETTINGS,
  ENCRYPTED_SETTING,
  FOLDER_LOCATION_SETTINGS,
  HELPER_AGENT_ID_KEY,
} from "../../../gitstore/index.ts";
import { SETTINGS_CONFIG } from "../../../protocol/daemon-request.ts";

describe("the settings a push through the daemon must share with the helper", () => {
  it("name every git setting the remote helper reads", () => {
    for (const name of [
      ...Object.values(BUCKET_ACCESS_SETTINGS),
      ...Object.values(FOLDER_LOCATION_SETTINGS),
      ENCRYPTED_SETTING,
      AGENT_ID_KEY,
      HELPER_AGENT_ID_KEY,
    ])
      assert.match(name, SETTINGS_CONFIG, `${name} given in the environment would not stop the daemon from pushing`);
  });
});
