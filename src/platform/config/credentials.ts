// Backend passwords read from files (systemd LoadCredential=), like HOMEBASE_JWT_SECRET_FILE: the
// password stays out of the environment (/proc/<pid>/environ, `systemctl show`) and out of the
// URL an operator pastes into a bug report. It joins the URL in memory only, where the clients
// read it (ioredis from the URL; NATS through natsConnectionOptions in events/jetstream.ts).
import { readFileSync } from "node:fs";
import { ConfigError } from "./env";

/** The file's content, trimmed; ConfigError naming the variable when it is unreadable or empty. */
export function readPasswordFile(variable: string, path: string, what = "the password"): string {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(variable, `a readable file holding ${what}`, path);
  }
  const password = content.trim();
  if (password === "") throw new ConfigError(variable, `a file holding ${what} (it is empty)`, path);
  if (/[\r\n]/.test(password)) throw new ConfigError(variable, `a file holding ${what} on one line`, path);
  return password;
}

export interface PasswordFileSpec {
  urlVariable: string;
  fileVariable: string;
  /**
   * Where the password goes when the URL names no user: Redis's default user takes it as the
   * password (redis://:pw@host), NATS as a token in the user part (nats://token@host).
   */
  withoutUser: "password" | "token";
}

/**
 * The backend URL with the password of `file` put in: the password of the URL's user, or (no
 * user) Redis's default user's password / the NATS token. Without the URL the file is not read
 * (the units hand the credential over whether or not the backend is configured); a URL that
 * carries a password already is refused, as setting both HOMEBASE_JWT_SECRET and its file is.
 */
export function urlWithPasswordFile(spec: PasswordFileSpec, url: string | undefined, file: string | undefined): string | null {
  if (url === undefined) return null;
  if (file === undefined) return url;
  const parsed = new URL(url);
  if (parsed.password !== "") throw new ConfigError(spec.fileVariable, `to be unset when ${spec.urlVariable} carries a password (use one of them)`, file);
  const password = encodeURIComponent(readPasswordFile(spec.fileVariable, file));
  if (parsed.username === "" && spec.withoutUser === "token") parsed.username = password;
  else parsed.password = password;
  return parsed.toString();
}
