import { resolve } from "node:path";
import { parseFaultRates } from "./faults.ts";
import { exportLines, serveUntilStopped } from "../serve.ts";
import { startStackCloud, type StackCloud } from "./stack-cloud.ts";

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
  await serveUntilStopped<StackCloud>({
    port: options.port,
    json: options.json,
    start: (log) =>
      startStackCloud({
        cdkOut,
        port: options.port,
        region: options.region,
        ...(options.faults ? { faults: parseFaultRates(options.faults) } : {}),
        log,
      }),
    // SIGHUP: the cdk.out was synthesized again (an agent's keySerial raised): apply it as `cdk deploy` would.
    whileRunning: (cloud) => {
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
      return () => process.off("SIGHUP", onHangUp);
    },
    record: ({ endpoint, stackName, outputs, nestedStacks, env, rehearsed, notRehearsed }) => ({
      endpoint,
      stackName,
      outputs,
      nestedStacks,
      env,
      rehearsed,
      notRehearsed,
    }),
    lines: (cloud) => [
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
      ...exportLines(cloud.env),
      "",
      `Synthesize again into ${cdkOut} and \`kill -HUP ${process.pid}\` to rehearse an update (e.g. a raised keySerial). Press Ctrl-C to stop.`,
    ],
  });
}
