import { parentPort, workerData } from "node:worker_threads";

/** The inside of a LocalFunction: loads the handler once (cold start), then serves invocations. */
const { module, exportName, name } = workerData as { module: string; exportName: string; name: string };
const loaded = (await import(module)) as Record<string, unknown>;
const handler = loaded[exportName];
if (typeof handler !== "function") throw new Error(`${module} exports no function named ${exportName}`);

parentPort!.on("message", async ({ id, event }: { id: string; event: unknown }) => {
  const deadline = Date.now() + 30_000;
  const context = {
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: "256",
    awsRequestId: id,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await (handler as (e: unknown, c: unknown) => Promise<unknown>)(event, context);
    parentPort!.postMessage({ id, result });
  } catch (error) {
    const e = error as Error;
    parentPort!.postMessage({ id, error: { message: e.message, stack: e.stack } });
  }
});
