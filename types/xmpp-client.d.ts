/**
 * The part of @xmpp/client 0.14 cloudbridge uses. The package ships no type declarations; these follow
 * its README and source (client-core, xml/ltx). Keep them to what the code calls.
 */
declare module "@xmpp/client" {
  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (Element | string)[];
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    text(): string;
    toString(): string;
  }

  export interface JID {
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(): string;
  }

  export type Authenticate = (credentials: { username: string; password: string }, mechanism: string) => Promise<void>;

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    credentials?: (authenticate: Authenticate, mechanisms: string[]) => Promise<void>;
    timeout?: number;
  }

  export interface Client {
    jid: JID | null;
    status: string;
    timeout: number;
    reconnect: { stop(): void; delay: number };
    iqCaller: { request(element: Element, timeout?: number): Promise<Element> };
    isSecure(): boolean;
    start(): Promise<JID>;
    stop(): Promise<void>;
    /** One stanza per call: further arguments are ignored. */
    send(element: Element): Promise<void>;
    on(event: "stanza", listener: (stanza: Element) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    on(event: "online", listener: (jid: JID) => void): this;
    on(event: "offline" | "status", listener: (...args: unknown[]) => void): this;
    once(event: string, listener: (...args: unknown[]) => void): this;
    removeAllListeners(event?: string): this;
  }

  export function client(options: ClientOptions): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Element | string)[]): Element;
  export function jid(text: string): JID;
}
