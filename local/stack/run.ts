import { resolve } from "node:path";
import { parseFaultRates } from "./faults.ts";
import { LocalCloudError } from "../errors.ts";
import { startStackCloud, type StackCloud } from "./stack-cloud.ts";
import { stopSignal } from "../stop-signal.ts";

/**
 * `cloudbridge local --stack <cdk.out>` in a terminal: deploys the stack, prints what is rehearsed and
 * what is not, the stack's outputs and the administrator's environment, and runs until Ctrl-C.
 */
export async function runStackCloud(options: {
  stack: string;
  port: number;
  region: string;
  faults?: string;
  json?: boolean;
}): Promise<void> {
  const cdkOut = resolve(options.stack);
  let cloud: StackCloud;
  try {
    cloud = await startStackCloud({
      cdkOut,
      port: options.port,
      region: options.region,
      ...(options.faults ? { faults: parseFaultRates(options.faults) } : {}),
      log: (line) => process.stderr.write(`cloudbridge local: ${line}\n`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new LocalCloudError(
        "local-port-in-use",
        `port ${options.port} is already in use: stop what runs there, or pass --port 0 to pick a free port.`,
      );
    }
    throw error;
  }
  // SIGHUP: the cdk.out was synthesized again (an agent's keySerial raised): apply it as `cdk deploy` would.
  const onHangUp = () => {
    cloud.update().then(
      (lines) =>
        process.stderr.write(
          `cloudbridge local: stack updated${lines.length ? `:\n${lines.map((l) => `  ${l}`).join("\n")}` : " (no change)"}\n`,
        ),
      (error: unknown) => process.stderr.write(`cloudbridge local: stack update refused: ${(error as Error).message}\n`),
    );
  };
  process.on("SIGHUP", onHangUp);
  if (options.json) {
    const { endpoint, stackName, outputs, nestedStacks, env, rehearsed, notRehearsed } = cloud;
    process.stdout.write(`${JSON.stringify({ endpoint, stackName, outputs, nestedStacks, env, rehearsed, notRehearsed })}\n`);
  } else {
    const lines = [
      `cloudbridge local is running the stack ${cloud.stackName} from ${cdkOut} on ${cloud.endpoint} (loopback only), state in memory.`,
      `Every request must be signed by one of the stack's keys and is authorized by its IAM policies.`,
      ...(options.faults ? [`Faults injected: ${options.faults}.`] : []),
      "",
      "Rehearsed:",
      ...cloud.rehearsed.map((line) => `  ${line}`),
      "",
      "Not rehearsed (accepted, no local effect):",
      ...cloud.notRehearsed.map((line) => `  - ${line}`),
      "",
      "Outputs:",
      ...Object.entries(cloud.outputs).map(([key, value]) => `  ${key} = ${value}`),
      ...cloud.nestedStacks.flatMap((nested) => [
        "",
        `Outputs of the nested stack ${nested.stackName}:`,
        ...Object.entries(nested.outputs).map(([key, value]) => `  ${key} = ${value}`),
      ]),
      "",
      "The administrator's environment (AdministratorAccess in this account):",
      ...Object.entries(cloud.env).map(([name, value]) => `  export ${name}=${value}`),
      "",
      `Synthesize again into ${cdkOut} and \`kill -HUP ${process.pid}\` to rehearse an update (e.g. a raised keySerial). Press Ctrl-C to stop.`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  await stopSignal();
  process.off("SIGHUP", onHangUp);
  await cloud.stop();
  if (!options.json) process.stdout.write("cloudbridge local stopped.\n");
}
