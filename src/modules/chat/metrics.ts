// The chat module's Prometheus series, registered on the platform's registry.
import { Counter, Gauge, type Registry } from "prom-client";

export function createChatMetrics(registry: Registry) {
  return {
    wsConnections: new Gauge({
      name: "homebase_ws_connections",
      help: "Open WebSocket connections on this instance",
      registers: [registry],
    }),
    wsMessages: new Counter({
      name: "homebase_ws_messages_total",
      help: "WebSocket frames by direction (in: from clients, out: to clients)",
      labelNames: ["direction"] as const,
      registers: [registry],
    }),
    wsClosed: new Counter({
      name: "homebase_ws_closed_total",
      help: "WebSocket connections the server closed, by reason (slow_consumer, rate_limited, shutdown, session_ended, token_expired)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    chatMessages: new Counter({
      name: "homebase_chat_messages_total",
      help: "Chat messages sent, by outcome (stored, duplicate, rejected)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    chatFanout: new Counter({
      name: "homebase_chat_fanout_total",
      help: "Live chat events received from other instances over NATS",
      labelNames: ["direction"] as const,
      registers: [registry],
    }),
  };
}

export type ChatMetrics = ReturnType<typeof createChatMetrics>;
