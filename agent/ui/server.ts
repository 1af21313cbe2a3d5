import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, rm } from "node:fs/promises";
import type * as http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CloudbridgeError } from "../../protocol/index.ts";
import type { Logger } from "../log.ts";
import { writeFileAtomic } from "../sync/atomic-file.ts";
import { checkRequest, checkWrite, cookieName, newToken, TOKEN_HEADER } from "./auth.ts";
import type { FolderHandle } from "./folder-handle.ts";
import { FolderView } from "./folder-view.ts";
import { EventHub } from "./sse.ts";
import { pageFile, type PageInfo } from "./page-file.ts";

// node:http through require, not `import`: an ES import of a built-in reads every one of its exports, and
// node:http's include getters that load undici (fetch, WebSocket): about 9 MiB and 50-90 ms the daemon
// never uses.
const { createServer } = createRequire(import.meta.url)("node:http") as typeof http;

/**
 * The daemon's page: an HTTP server on 127.0.0.1 only (a random port unless one is configured), for a list
 * of folders. It serves the page's static files (Preact and htm from the package's own dependencies, no
 * build step), a JSON API whose folder status is the value `status --json` prints, and server-sent events
 * that push that status when it changes (and transfers' progress as it moves). Nothing is computed while
 * no page is open: updates are sent only to open event streams, and the bucket is asked only for what a
 * panel shows. Every request is checked (auth.ts).
 */
export interface Page {
  readonly origin: string;
  readonly port: number;
  /** The URL that opens the page (holds the token). */
  readonly url: string;
  close(): Promise<void>;
}

const STATIC = fileURLToPath(new URL("./static/", import.meta.url));
const VENDOR: Record<string, string> = {
  "preact.mjs": fileURLToPath(import.meta.resolve("preact")),
  "hooks.mjs": fileURLToPath(import.meta.resolve("preact/hooks")),
  "htm.mjs": fileURLToPath(import.meta.resolve("htm")),
};
const IMPORT_MAP = JSON.stringify({
  imports: { preact: "/vendor/preact.mjs", "preact/hooks": "/vendor/hooks.mjs", htm: "/vendor/htm.mjs" },
});
const CSP = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash("sha256").update(IMPORT_MAP).digest("base64")}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export async function startPage(handles: FolderHandle[], options: { port: number; log: Logger; token?: string }): Promise<Page> {
  const views = new Map(handles.map((h) => [h.id, new FolderView(h)]));
  const token = options.token ?? newToken();
  let port = 0;
  // Each snapshot is numbered as it is taken: a status takes longer to gather than the transfers, so their
  // messages can arrive out of order, and the page keeps the newest transfers it was told of.
  let snapshots = 0;
  const statusAll = async () => {
    const seq = ++snapshots;
    return { seq, folders: await Promise.all([...views.values()].map((v) => v.status())) };
  };

  // Updates go out only while someone looks; bursts are folded into one message.
  let statusTimer: NodeJS.Timeout | undefined;
  let transfersTimer: NodeJS.Timeout | undefined;
  const hub = new EventHub();
  const pushStatus = () => {
    if (hub.count === 0 || statusTimer) return;
    statusTimer = setTimeout(() => {
      statusTimer = undefined;
      if (hub.count === 0) return;
      statusAll().then(
        (status) => hub.send("status", status),
        (error: unknown) => options.log("warn", "page.status-failed", { message: (error as Error).message }),
      );
    }, 150);
  };
  const pushTransfers = () => {
    if (hub.count === 0 || transfersTimer) return;
    transfersTimer = setTimeout(() => {
      transfersTimer = undefined;
      const seq = ++snapshots;
      void Promise.all([...views.values()].map(async (v) => ({ id: v.id, active: (await v.handle.live()).active }))).then((folders) =>
        hub.send("transfers", { seq, folders }),
      );
    }, 250);
  };
  const unsubscribe = handles.map((h) => h.onUpdate((what) => (what === "status" ? pushStatus() : pushTransfers())));

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const known = error instanceof CloudbridgeError;
      if (!known) options.log("warn", "page.error", { message: (error as Error).message });
      if (!response.headersSent) send(response, known ? 400 : 500, { error: (error as Error).message });
      else response.end();
    });
  });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const verdict = checkRequest(request, url, port, token);
    if (!verdict.ok) return send(response, verdict.status, { error: verdict.reason });
    const write = request.method !== "GET" && request.method !== "HEAD";
    if (write) {
      const allowed = checkWrite(request, port, token);
      if (!allowed.ok) return send(response, allowed.status, { error: allowed.reason });
      if (request.method !== "POST") return send(response, 405, { error: "only GET and POST" });
    }
    const path = url.pathname;
    if (path === "/" && url.searchParams.has("token")) {
      // The token leaves the address bar (and the history) for a cookie only this port's pages send.
      response.writeHead(303, {
        location: "/",
        "set-cookie": `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        "cache-control": "no-store",
      });
      return void response.end();
    }
    if (path === "/") return sendPage(response, token);
    if (path.startsWith("/static/") || path.startsWith("/vendor/")) return sendAsset(response, path);
    if (path === "/api/status") return send(response, 200, await statusAll());
    if (path === "/api/events") {
      hub.add(response);
      hub.send("status", await statusAll(), response);
      return;
    }
    const match = /^\/api\/folders\/([0-9a-f-]+)\/([a-z-]+)$/.exec(path);
    const view = match ? views.get(match[1]!) : undefined;
    if (!match || !view) return send(response, 404, { error: "no such folder or view" });
    const action = match[2]!;
    if (!write && action === "file") return sendFile(response, await view.file(url.searchParams.get("path") ?? ""));
    if (!write) return send(response, 200, await read(view, action, url));
    const body = await readJson(request);
    const result = await act(view, action, body);
    pushStatus();
    return send(response, 200, result ?? { ok: true });
  };

  const read = async (view: FolderView, what: string, url: URL): Promise<unknown> => {
    const path = url.searchParams.get("path") ?? "";
    switch (what) {
      case "conflicts":
        return view.conflicts();
      case "recent":
        return view.recent();
      case "versions":
        return view.versions(path);
      case "deleted":
        return view.deleted();
      case "machines":
        return view.machines();
      case "bucket":
        return view.bucket(url.searchParams.get("refresh") === "1");
      default:
        throw new PageError(`no view ${what}`);
    }
  };

  const act = async (view: FolderView, what: string, body: Record<string, unknown>): Promise<unknown> => {
    const text = (name: string): string => {
      const value = body[name];
      if (typeof value !== "string" || value === "") throw new PageError(`${name} is missing`);
      return value;
    };
    switch (what) {
      case "pause":
        return { paused: await view.pause() };
      case "resume":
        return { resumed: await view.resume() };
      case "sync":
        void view.syncNow();
        return { ok: true };
      case "resolve": {
        const keep = text("keep");
        if (keep !== "this" && keep !== "both") throw new PageError("keep is this or both");
        return view.resolve(text("path"), keep === "this" ? "keep-this" : "keep-both");
      }
      case "restore": {
        const version = body.version === undefined ? undefined : Number(body.version);
        if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new PageError("version is a positive number");
        return view.restore(text("path"), {
          ...(typeof body.at === "string" && body.at ? { at: body.at } : {}),
          ...(version !== undefined ? { version } : {}),
        });
      }
      case "wanted": {
        const wanted = text("wanted");
        if (wanted !== "everything" && wanted !== "nothing") throw new PageError("wanted is everything or nothing");
        await view.setWanted(wanted);
        return { wanted };
      }
      case "limits": {
        const rate = (name: string) => {
          const value = body[name];
          if (value === undefined) return undefined;
          if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
            throw new PageError(`${name} is bytes per second (0: no limit)`);
          return Math.round(value);
        };
        const upload = rate("upload");
        const download = rate("download");
        await view.setLimits({ ...(upload !== undefined ? { upload } : {}), ...(download !== undefined ? { download } : {}) });
        return { upload, download };
      }
      default:
        throw new PageError(`no action ${what}`);
    }
  };

  // Loopback only, whatever was configured: the page is for the person at this machine.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const info: PageInfo = { url: `${origin}/?token=${token}`, origin, port, pid: process.pid };
  const files = handles.map((h) => pageFile(h.folder.root));
  for (const file of files) {
    await writeFileAtomic(file, `${JSON.stringify(info)}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return {
    origin,
    port,
    url: info.url,
    close: async () => {
      unsubscribe.forEach((stop) => stop());
      clearTimeout(statusTimer);
      clearTimeout(transfersTimer);
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const file of files) await rm(file, { force: true });
    },
  };
}

class PageError extends CloudbridgeError<"invalid-request"> {
  constructor(message: string) {
    super("invalid-request", message);
  }
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-resource-policy": "same-origin",
};

function send(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}

let pageHtml: string | undefined;

function sendPage(response: ServerResponse, token: string): void {
  pageHtml ??= readFileSync(join(STATIC, "index.html"), "utf8").replace(
    "<!--importmap-->",
    `<script type="importmap">${IMPORT_MAP}</script>`,
  );
  const body = pageHtml.replace("{{token}}", token);
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
  });
  response.end(body);
}

const TYPES: Record<string, string> = { ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };

function sendAsset(response: ServerResponse, path: string): void {
  const [, area, name] = /^\/(static|vendor)\/([a-z0-9.-]+)$/.exec(path) ?? [];
  const file = area === "vendor" ? VENDOR[name ?? ""] : name && /^[a-z0-9-]+\.(js|css|svg)$/.test(name) ? join(STATIC, name) : undefined;
  let body: Buffer;
  try {
    if (!file) throw new Error("not found");
    body = readFileSync(file);
  } catch {
    return send(response, 404, { error: "not found" });
  }
  const type = TYPES[name!.slice(name!.lastIndexOf("."))] ?? "application/octet-stream";
  response.writeHead(200, { ...SECURITY_HEADERS, "content-type": `${type}; charset=utf-8` });
  response.end(body);
}

/** A file of the folder for "open": shown as text when it is text, else downloaded; never run as a page. */
function sendFile(response: ServerResponse, file: { name: string; body: Buffer } | undefined): void {
  if (!file) return send(response, 404, { error: "no such file in the folder" });
  const text = !file.body.includes(0) && Buffer.from(file.body.toString("utf8"), "utf8").equals(file.body);
  const name = file.name.split("/").pop()!;
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    "content-type": text ? "text/plain; charset=utf-8" : "application/octet-stream",
    "content-security-policy": "sandbox; default-src 'none'",
    "content-disposition": `${text ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(name)}`,
  });
  response.end(file.body);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(request.headers["content-type"] ?? "").startsWith("application/json"))
    throw new PageError("send JSON (content-type: application/json)");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new PageError("the request is too large");
    chunks.push(chunk as Buffer);
  }
  const value = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PageError("send a JSON object");
  return value as Record<string, unknown>;
}

export { TOKEN_HEADER };
