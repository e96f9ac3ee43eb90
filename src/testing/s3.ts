// An S3-compatible server for the tests: moto's server mode (PyPI), on a free port, started on
// demand and stopped when the process exits. Its buckets live in memory.
import type { Subprocess } from "bun";
import { freePort } from "./ports";
import { ensurePypiTool } from "./pypi";
import { waitFor } from "./wait";

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Creates a bucket (moto keeps no state across restarts). */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

let running: Promise<S3Server> | null = null;

export function startS3Server(): Promise<S3Server> {
  running ??= (async () => {
    const bin = ensurePypiTool("moto", "moto[server]==5.2.5", "moto_server");
    const port = await freePort();
    const proc: Subprocess = Bun.spawn(["setpriv", "--pdeathsig", "SIGTERM", bin, "-H", "127.0.0.1", "-p", String(port)], { stdout: "ignore", stderr: "pipe" });
    process.once("exit", () => proc.kill());
    const endpoint = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(endpoint).then(() => true, () => false), { what: "moto_server", timeoutMs: 30_000 });
    process.stderr.write(`[harness] moto_server (S3) up on ${endpoint} (pid ${proc.pid})\n`);
    const credentials = { accessKeyId: "homebase-test", secretAccessKey: "homebase-test-secret", region: "us-east-1" };
    return {
      endpoint,
      ...credentials,
      async createBucket(name) {
        // Plain S3 API call: PUT /<bucket> (moto accepts any credentials).
        const res = await fetch(`${endpoint}/${name}`, { method: "PUT" });
        if (!res.ok && res.status !== 409) throw new Error(`create bucket ${name}: ${res.status} ${await res.text()}`);
      },
      async stop() {
        proc.kill();
        await proc.exited;
        running = null;
      },
    };
  })();
  return running;
}
