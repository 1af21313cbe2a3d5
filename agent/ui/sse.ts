import type { ServerResponse } from "node:http";

/**
 * Server-sent events to the open pages: the server pushes, the page never polls. A comment line every
 * 25 s keeps proxies and the browser from closing an idle stream; the timer runs only while a page is open.
 */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private keepAlive: NodeJS.Timeout | undefined;
  private readonly onCountChange: (count: number) => void;

  constructor(onCountChange: (count: number) => void = () => undefined) {
    this.onCountChange = onCountChange;
  }

  get count(): number {
    return this.clients.size;
  }

  add(response: ServerResponse): void {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    response.write("retry: 1000\n\n");
    this.clients.add(response);
    response.on("close", () => {
      this.clients.delete(response);
      if (this.clients.size === 0) {
        clearInterval(this.keepAlive);
        this.keepAlive = undefined;
      }
      this.onCountChange(this.clients.size);
    });
    this.keepAlive ??= setInterval(() => this.clients.forEach((c) => c.write(": keep-alive\n\n")), 25_000);
    this.onCountChange(this.clients.size);
  }

  send(event: string, data: unknown, to?: ServerResponse): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of to ? [to] : this.clients) client.write(text);
  }

  close(): void {
    clearInterval(this.keepAlive);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}
