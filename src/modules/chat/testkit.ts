// Test helpers for the chat socket: a client that records every event, and waits for them.
import { waitFor } from "../../testing/wait";

export type ChatEvent = { event: string; [key: string]: any };

export class ChatClient {
  readonly events: ChatEvent[] = [];
  closed: { code: number; reason: string } | null = null;
  /** performance.now() when the close arrived: tests measure how soon a socket was closed. */
  closedAt: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => this.events.push(JSON.parse(String(e.data)) as ChatEvent);
    ws.onclose = (e) => {
      this.closedAt = performance.now();
      this.closed = { code: e.code, reason: e.reason };
    };
  }

  /** Connects with ?token= (or the bearer subprotocol) and waits for the ready event. */
  static async connect(baseUrl: string, token: string, via: "query" | "protocol" = "query", headers?: Record<string, string>): Promise<ChatClient> {
    const wsUrl = baseUrl.replace(/^http/, "ws");
    // Bun's WebSocket takes headers (e.g. X-Forwarded-For behind a trusted proxy).
    const ws =
      via === "query"
        ? new WebSocket(`${wsUrl}/ws?token=${encodeURIComponent(token)}`, { headers })
        : new WebSocket(`${wsUrl}/ws`, { protocols: ["bearer", token], headers });
    const client = new ChatClient(ws);
    await client.next((e) => e.event === "ready", "ready");
    return client;
  }

  send(op: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(op));
  }

  /** The first event (from `from` on) matching, waiting for it. */
  async next(match: (e: ChatEvent) => boolean, what = "an event", from = 0, timeoutMs = 10_000): Promise<ChatEvent> {
    let found: ChatEvent | undefined;
    await waitFor(
      () => {
        found = this.events.slice(from).find(match);
        if (!found && this.closed && !what.startsWith("close")) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
        return found !== undefined;
      },
      { timeoutMs, what },
    );
    return found!;
  }

  all(match: (e: ChatEvent) => boolean): ChatEvent[] {
    return this.events.filter(match);
  }

  /** Joins over the socket and waits for the joined reply. */
  async join(roomId: string, password?: string): Promise<ChatEvent> {
    const ref = Bun.randomUUIDv7();
    this.send({ op: "join", roomId, ref, ...(password ? { password } : {}) });
    return this.next((e) => e.ref === ref && (e.event === "joined" || e.event === "error"), `joined ${roomId}`);
  }

  /** Sends a text message and waits for its acknowledgement (the broadcast carrying our clientMsgId). */
  async say(roomId: string, content: string, clientMsgId = Bun.randomUUIDv7()): Promise<ChatEvent> {
    const from = this.events.length;
    this.send({ op: "send", roomId, clientMsgId, kind: "text", content, ref: clientMsgId });
    const ev = await this.next(
      (e) => (e.event === "message" && e.message.clientMsgId === clientMsgId) || (e.event === "error" && e.ref === clientMsgId),
      `ack of ${content}`,
      from,
    );
    if (ev.event === "error") throw new Error(`send failed: ${ev.code} ${ev.detail}`);
    return ev;
  }

  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closed !== null, { timeoutMs, what: "the socket to close" });
    return this.closed!;
  }

  /** Sends a ping and waits for its pong: the socket is open and served. */
  async ping(): Promise<void> {
    const ref = Bun.randomUUIDv7();
    this.send({ op: "ping", ref });
    await this.next((e) => e.event === "pong" && e.ref === ref, "pong");
  }

  close(): void {
    if (this.ws.readyState <= 1) this.ws.close();
  }
}

/** Messages of a room received by a client, by content. */
export function contents(client: ChatClient, roomId: string): string[] {
  return client.all((e) => e.event === "message" && e.roomId === roomId && e.message.kind !== "system" && !e.duplicate).map((e) => e.message.content as string);
}
