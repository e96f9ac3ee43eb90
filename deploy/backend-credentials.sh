#!/bin/sh
# Passwords for homebase's Redis and NATS users, and the server-side files that check them.
# Without them any local process could read and forge the cache, locks, rate limits, presence,
# events and chat fanout. Run as root; re-running keeps the passwords and rewrites the rest.
#
#   /etc/homebase/redis.password, nats.password   root 0600; the units hand them to homebase
#                                                 (LoadCredential=, REDIS/NATS_PASSWORD_FILE)
#   /etc/redis/homebase.acl                       root:redis 0640; the password's SHA-256 only
#   /etc/nats-server-auth.conf                    root:nats 0640; included by /etc/nats-server.conf
#
# Redis: the default (password-less) user is off; user homebase may use every key and channel and
# every command but the dangerous ones (FLUSHALL, CONFIG, KEYS, DEBUG …), INFO excepted.
# NATS: one user, homebase, with its password. nats-server also accepts a bcrypt hash in place of
# the password (e.g. `htpasswd -bnBC 11 "" PASSWORD | tr -d ':\n'` from apache2-utils).
#
# The paths can be moved (a test does): HOMEBASE_ETC (a directory), REDIS_ACL, NATS_AUTH (files).
set -eu

etc=${HOMEBASE_ETC:-/etc/homebase}
redis_acl=${REDIS_ACL:-/etc/redis/homebase.acl}
nats_auth=${NATS_AUTH:-/etc/nats-server-auth.conf}
user=homebase
# The rules deploy/redis.conf documents and src/testing/servers.ts gives its test server.
redis_rules='~* &* +@all -@dangerous +info'

umask 077
install -d -m 0750 "$etc"
for name in redis nats; do
  # 32 random bytes as hex: no character that needs quoting in a URL, an ACL or a NATS config.
  [ -s "$etc/$name.password" ] || openssl rand -hex 32 > "$etc/$name.password"
done

# What homebase sends is the file's content without its newline.
redis_password=$(tr -d '\n' < "$etc/redis.password")
nats_password=$(tr -d '\n' < "$etc/nats.password")
redis_hash=$(printf '%s' "$redis_password" | sha256sum | cut -d' ' -f1)

printf 'user default off\nuser %s on #%s %s\n' "$user" "$redis_hash" "$redis_rules" > "$redis_acl"
printf 'authorization {\n  users: [ { user: %s, password: "%s" } ]\n}\n' "$user" "$nats_password" > "$nats_auth"

# The servers read their file as their own group (Debian's packages: redis, nats).
for pair in "$redis_acl:redis" "$nats_auth:nats"; do
  file=${pair%:*}
  group=${pair##*:}
  if getent group "$group" > /dev/null; then chgrp "$group" "$file"; fi
  chmod 0640 "$file"
done
echo "wrote $etc/redis.password, $etc/nats.password, $redis_acl, $nats_auth"
