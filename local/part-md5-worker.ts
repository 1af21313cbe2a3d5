import { createHash } from "node:crypto";
import { parentPort } from "node:worker_threads";

/** The inside of PartDigests' worker: the MD5 of each part's bytes, handed back with the bytes. */
parentPort!.on("message", ({ id, body }: { id: number; body: ArrayBuffer }) => {
  const md5 = createHash("md5").update(new Uint8Array(body)).digest("hex");
  parentPort!.postMessage({ id, md5, body }, [body]);
});
