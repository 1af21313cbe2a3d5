import { fileURLToPath } from "node:url";
import { RemovalPolicy, type Duration, type Size } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { deadLetterQueue } from "./dead-letter-queue.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface CloudbridgeFunctionProps {
  /** Handler module, relative to the repository root (e.g. `functions/change-fanout/handler.ts`). */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly ephemeralStorageSize?: Size;
  /** At most this many at once (Lambda reserved concurrency); none by default. */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * One of cloudbridge's Lambda functions, configured the same way for all: Node.js 24 on arm64, bundled
 * by the local esbuild into one ES module (no Docker), its own role with no managed policy (only its log
 * group and what the stack grants it), a log group with a retention, structured JSON logs, and a
 * dead-letter queue for asynchronous invocations that still fail after Lambda's two retries.
 */
export class CloudbridgeFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CloudbridgeFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, "Logs", { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `cloudbridge ${id}: its own log group and what the stack grants it, nothing else`,
    });
    this.logGroup.grantWrite(this.role);
    this.deadLetterQueue = deadLetterQueue(this, "DeadLetterQueue", "asynchronous invocations of this function that failed three times");
    this.function = new NodejsFunction(this, "Function", {
      entry: `${ROOT}${props.entry}`,
      handler: "handler",
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.ephemeralStorageSize ? { ephemeralStorageSize: props.ephemeralStorageSize } : {}),
      ...(props.reservedConcurrentExecutions ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions } : {}),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { NODE_OPTIONS: "--enable-source-maps", ...props.environment },
      deadLetterQueueEnabled: true,
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 2,
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        minify: true,
        sourceMap: true,
        // Bundle the pinned AWS SDK too: what runs is what the tests ran, not the runtime's copy.
        externalModules: [],
        mainFields: ["module", "main"],
        // CommonJS dependencies inside an ES module bundle still call require().
        banner: "import { createRequire as __cbCreateRequire } from 'node:module'; const require = __cbCreateRequire(import.meta.url);",
      },
    });
  }
}
