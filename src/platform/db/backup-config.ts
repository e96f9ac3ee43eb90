// The scheduled backups' variables (part of the platform's schema): when (croner, UTC), where,
// how many to keep, and an optional S3-compatible bucket each verified backup is uploaded to.
import { join, resolve } from "node:path";
import { Cron } from "croner";
import { type Static, t } from "elysia";
import { readPasswordFile } from "../config/credentials";
import { ConfigError, env } from "../config/env";

const cronCheck = (expr: string): string | undefined => {
  try {
    new Cron(expr, { paused: true, timezone: "UTC" }).stop();
    return undefined;
  } catch (err) {
    return `a cron expression (croner syntax, UTC; e.g. "0 3 * * *" or, with seconds, "*/30 * * * * *"): ${err instanceof Error ? err.message : String(err)}`;
  }
};

export const backupVariables = {
  HOMEBASE_BACKUP_CRON: env.optionalString({
    description:
      "When the worker takes a backup (croner syntax, UTC, e.g. `0 3 * * *`; a 6th leading field is seconds); unset = no scheduled backups.",
    check: cronCheck,
  }),
  HOMEBASE_BACKUP_KEEP: env.integer({
    default: 7,
    min: 1,
    max: 10_000,
    description: "Verified backups kept in HOMEBASE_BACKUP_DIR; older ones are deleted after each successful backup.",
  }),
  HOMEBASE_BACKUP_DIR: env.optionalString({
    description: "Where scheduled backups are written (made 0700; files 0600); unset = <data dir>/backups.",
  }),
  HOMEBASE_BACKUP_S3_BUCKET: env.optionalString({
    description: "S3-compatible bucket each verified backup is uploaded to (key = its file name); unset = local only.",
  }),
  HOMEBASE_BACKUP_S3_ENDPOINT: env.url(["http:", "https:"], {
    description: "Endpoint of the backup bucket's S3-compatible storage (needs HOMEBASE_BACKUP_S3_BUCKET).",
  }),
  HOMEBASE_BACKUP_S3_REGION: env.optionalString({ description: "Region of the backup bucket." }),
  HOMEBASE_BACKUP_S3_ACCESS_KEY_ID: env.optionalString({ description: "Access key id for the backup bucket." }),
  HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE: env.optionalString({
    description:
      "A file holding the backup bucket's secret access key (systemd LoadCredential=); read only when HOMEBASE_BACKUP_S3_BUCKET is set.",
  }),
};

export interface BackupS3Settings {
  bucket: string;
  endpoint: string | null;
  region: string | null;
  accessKeyId: string | null;
  /** Read from HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE: never print it. */
  secretAccessKey: string | null;
}

export interface BackupSettings {
  /** croner expression (UTC); null = no scheduled backups. */
  cron: string | null;
  keep: number;
  /** Absolute path. */
  dir: string;
  s3: BackupS3Settings | null;
}

const backupSchema = t.Object(backupVariables);

/** The settings from the variables' values (the platform's, which include these). */
export function backupSettings(v: Static<typeof backupSchema>, dataDir: string): BackupSettings {
  const bucket = v.HOMEBASE_BACKUP_S3_BUCKET;
  const endpoint = v.HOMEBASE_BACKUP_S3_ENDPOINT;
  const secretFile = v.HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE;
  if (bucket === undefined && endpoint !== undefined) {
    throw new ConfigError("HOMEBASE_BACKUP_S3_BUCKET", "a bucket name when HOMEBASE_BACKUP_S3_ENDPOINT is set", "");
  }
  return {
    cron: v.HOMEBASE_BACKUP_CRON ?? null,
    keep: v.HOMEBASE_BACKUP_KEEP,
    dir: resolve(v.HOMEBASE_BACKUP_DIR ?? join(dataDir, "backups")),
    s3:
      bucket === undefined
        ? null
        : {
            bucket,
            endpoint: endpoint ?? null,
            region: v.HOMEBASE_BACKUP_S3_REGION ?? null,
            accessKeyId: v.HOMEBASE_BACKUP_S3_ACCESS_KEY_ID ?? null,
            secretAccessKey:
              secretFile === undefined
                ? null
                : readPasswordFile("HOMEBASE_BACKUP_S3_SECRET_ACCESS_KEY_FILE", secretFile, "the secret access key"),
          },
  };
}
