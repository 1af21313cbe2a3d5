import type { FauxqsParts } from "../fauxqs-internals.ts";
import type { LocalFunction } from "../lambda-runtime.ts";
import { sendAwsError } from "./aws-errors.ts";
import { lambdaInvokedFunction } from "./request-actions.ts";
import { parseAuthorization } from "./sigv4.ts";

/**
 * Lambda's Invoke on the local cloud's endpoint (`aws lambda invoke --function-name … --payload …`), for
 * the stack's functions: synchronous (RequestResponse: the function's result, or `X-Amz-Function-Error`
 * with its error as Lambda reports one) and asynchronous (`Event`: 202, run after the answer). Requests
 * reach it only after the gate has checked their signature and authorized `lambda:InvokeFunction`.
 */
export function installLambdaInvoke({ app }: FauxqsParts, functionOf: (nameOrArn: string) => LocalFunction | undefined): void {
  app.addHook("preHandler", (request, reply, done) => {
    if (parseAuthorization(request.headers)?.service !== "lambda") return done();
    const path = (request.raw.url ?? "/").split("?")[0]!;
    const name = lambdaInvokedFunction(path);
    const fn = name ? functionOf(name) : undefined;
    if (!name || !fn) {
      void sendAwsError(reply, "lambda", 404, "ResourceNotFoundException", `Function not found: ${name ?? path}`);
      return;
    }
    const text =
      typeof request.body === "string"
        ? request.body
        : Buffer.isBuffer(request.body)
          ? request.body.toString("utf8")
          : request.body === undefined || request.body === null
            ? ""
            : JSON.stringify(request.body);
    let event: unknown;
    try {
      event = text === "" ? {} : JSON.parse(text);
    } catch {
      void sendAwsError(reply, "lambda", 400, "InvalidRequestContentException", "Could not parse request body into json");
      return;
    }
    if (request.headers["x-amz-invocation-type"] === "Event") {
      void fn.invoke(event).catch(() => undefined);
      void reply.code(202).send("");
      return;
    }
    fn.invoke(event).then(
      (result) =>
        void reply
          .code(200)
          .header("content-type", "application/json")
          .send(JSON.stringify(result ?? null)),
      (error: unknown) =>
        void reply
          .code(200)
          .header("content-type", "application/json")
          .header("x-amz-function-error", "Unhandled")
          .send(JSON.stringify({ errorType: (error as Error).name ?? "Error", errorMessage: (error as Error).message ?? String(error) })),
    );
  });
}
