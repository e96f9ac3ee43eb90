// Timeout, retry with backoff and a circuit breaker around a PaymentGateway (cockatiel).
//
//   retry (transient errors only, exponential backoff with jitter)
//     └ circuit breaker (count window, opens at N % failures once M calls were seen,
//       half-open after openMs with K trial calls)
//         └ timeout (aggressive: the call's AbortSignal fires and the attempt fails)
//
// Declines and rejections are answers, not failures: they pass through untouched, are never
// retried and count as successes for the breaker. An open breaker fails fast (no retry).
import {
  BrokenCircuitError,
  CircuitState,
  CountBreaker,
  ExponentialBackoff,
  IsolatedCircuitError,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
} from "cockatiel";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  GatewayError,
  type Approval,
  type ApproveRequest,
  type CancelRequest,
  type CancelResult,
  type ChargeRequest,
  type PaymentGateway,
  type ReadyRequest,
  type ReadyResult,
} from "./port";

export interface ResilienceSettings {
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  backoffMs: number;
  backoffMaxMs: number;
  breakerWindow: number;
  breakerMinCalls: number;
  breakerFailurePct: number;
  breakerOpenMs: number;
  breakerHalfOpenCalls: number;
}

export function isTransient(err: unknown): boolean {
  return (err instanceof GatewayError && err.kind === "transient") || err instanceof TaskCancelledError;
}

/** Per gateway HTTP attempt: ok, declined, rejected, transient, timeout; and short_circuited per call refused by an open breaker. */
function callsCounter(registry: Registry): Counter<"gateway" | "operation" | "outcome"> {
  const name = "homebase_payment_gateway_calls_total";
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<"gateway" | "operation" | "outcome">;
  return new Counter({
    name,
    help: "Payment gateway calls by gateway, operation and outcome (ok, declined, rejected, transient, timeout, short_circuited)",
    labelNames: ["gateway", "operation", "outcome"] as const,
    registers: [registry],
  });
}

function breakerGauge(registry: Registry): Gauge<"breaker"> {
  const name = "homebase_circuit_breaker_state";
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<"breaker">;
  return new Gauge({
    name,
    help: "Circuit breaker state by breaker: 0 closed, 1 open, 2 half-open",
    labelNames: ["breaker"] as const,
    registers: [registry],
  });
}

export class ResilientGateway implements PaymentGateway {
  readonly name: string;
  readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy;
  private readonly calls: Counter<"gateway" | "operation" | "outcome">;
  private readonly openMs: number;

  constructor(
    private readonly inner: PaymentGateway,
    settings: ResilienceSettings,
    registry: Registry,
  ) {
    this.name = inner.name;
    this.openMs = settings.breakerOpenMs;
    const transient = handleWhen(isTransient);
    this.breaker = circuitBreaker(transient, {
      halfOpenAfter: settings.breakerOpenMs,
      breaker: new CountBreaker({
        threshold: settings.breakerFailurePct / 100,
        size: settings.breakerWindow,
        minimumNumberOfCalls: Math.min(settings.breakerMinCalls, settings.breakerWindow),
      }),
      // K trial calls while half-open; more than the failure threshold of them failing reopens it.
      halfOpenSampling: { calls: settings.breakerHalfOpenCalls, threshold: settings.breakerFailurePct / 100 },
    });
    const retries = retry(transient, {
      maxAttempts: settings.retries,
      backoff: new ExponentialBackoff({ initialDelay: settings.backoffMs, maxDelay: settings.backoffMaxMs }),
    });
    this.policy = wrap(retries, this.breaker, timeout(settings.timeoutMs, TimeoutStrategy.Aggressive));

    const label = `payment_gateway_${inner.name}`;
    const gauge = breakerGauge(registry);
    gauge.set({ breaker: label }, 0);
    this.breaker.onStateChange((state) => gauge.set({ breaker: label }, state === CircuitState.Isolated ? 1 : state));
    this.calls = callsCounter(registry);
  }

  /**
   * While the breaker is open: the time left until it half-opens (lets a trial call through),
   * read from cockatiel's own state (the instant it opened, on its clock: Date.now()). Null
   * when closed or half-open; held open by hand (isolated): the whole open period.
   */
  reopensInMs(now = Date.now()): number | null {
    const s = this.breaker.state;
    if (s === CircuitState.Isolated) return this.openMs;
    if (s !== CircuitState.Open) return null;
    const own = (this.breaker.toJSON() as { ownState?: { openedAt?: unknown } }).ownState;
    if (typeof own?.openedAt !== "number") return this.openMs;
    return Math.max(0, own.openedAt + this.openMs - now);
  }

  get state(): "closed" | "open" | "half-open" {
    const s = this.breaker.state;
    return s === CircuitState.Closed ? "closed" : s === CircuitState.HalfOpen ? "half-open" : "open";
  }

  private async run<T>(operation: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(async ({ signal }) => {
        try {
          const out = await fn(signal);
          this.calls.inc({ gateway: this.name, operation, outcome: "ok" });
          return out;
        } catch (err) {
          const outcome = signal.aborted ? "timeout" : err instanceof GatewayError ? err.kind : "transient";
          this.calls.inc({ gateway: this.name, operation, outcome });
          throw err;
        }
      });
    } catch (err) {
      if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
        this.calls.inc({ gateway: this.name, operation, outcome: "short_circuited" });
        throw new GatewayError(
          "transient",
          "circuit_open",
          "the payment gateway is failing; calls are paused for a moment",
          this.reopensInMs() ?? this.openMs,
        );
      }
      if (err instanceof TaskCancelledError)
        throw new GatewayError("transient", "timeout", `the payment gateway did not answer ${operation} in time`);
      if (err instanceof GatewayError) throw err;
      // Anything else (a bug in an adapter, a network error it did not map) is transient.
      throw new GatewayError("transient", "gateway_error", err instanceof Error ? err.message : String(err));
    }
  }

  ready(req: ReadyRequest): Promise<ReadyResult> {
    return this.run("ready", (signal) => this.inner.ready(req, signal));
  }
  approve(req: ApproveRequest): Promise<Approval> {
    return this.run("approve", (signal) => this.inner.approve(req, signal));
  }
  charge(req: ChargeRequest): Promise<Approval> {
    return this.run("charge", (signal) => this.inner.charge(req, signal));
  }
  cancel(req: CancelRequest): Promise<CancelResult> {
    return this.run("cancel", (signal) => this.inner.cancel(req, signal));
  }
  inactivate(sid: string): Promise<void> {
    return this.run("inactivate", (signal) => this.inner.inactivate(sid, signal));
  }
}
