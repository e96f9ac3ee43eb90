// The binary's configuration: the platform's variables plus those of every listed module
// (each declared with `t` in its own folder; see src/platform/config).
import { modules } from "./modules";
import { type Config, type Env, loadConfig as loadWith, type Role } from "./platform/config";
import type { AnyModule } from "./platform/module";

export { ConfigError, moduleConfig, redactedConfig, unknownVariableWarnings } from "./platform/config";
export type { Config, Role };

export function loadConfig(env: Env = process.env, list: readonly AnyModule[] = modules): Config {
  return loadWith(env, list);
}
