#!/bin/sh
# Redis for the dev stack, with the same rules as the redis role: the default user
# off (REDIS_DEFAULT_USER_RULES, from redis_default_user_rules: off, yet able to replay
# the AOF's transactions),
# one Celery user with the role's ACL rules (REDIS_CELERY_PERMISSIONS, rendered into
# the compose file from redis_celery_permissions) and its password stored as a sha256
# hash, noeviction, appendonly. User and password come from REDIS_URL
# (docker/dev.env), the URL the app itself connects with, so the two cannot disagree.
#   clinic-redis           run the server
#   clinic-redis --ping    healthcheck: PING as that user
set -eu
url=${REDIS_URL:?REDIS_URL is not set (docker/dev.env)}
auth=${url#*://}
auth=${auth%%@*}
user=${auth%%:*}
password=${auth#*:}
if [ -z "$user" ] || [ "$auth" = "$url" ] || [ "$user" = "$auth" ]; then
  echo "clinic-redis: REDIS_URL must be redis://USER:PASSWORD@host:port/db" >&2
  exit 2
fi
if [ "${1:-}" = "--ping" ]; then
  REDISCLI_AUTH=$password exec redis-cli --no-auth-warning --user "$user" -h 127.0.0.1 PING
fi
rules=${REDIS_CELERY_PERMISSIONS:?REDIS_CELERY_PERMISSIONS is not set (the compose file sets it)}
default_rules=${REDIS_DEFAULT_USER_RULES:?REDIS_DEFAULT_USER_RULES is not set (the compose file sets it)}
hash=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
umask 077
printf 'user default %s\nuser %s on #%s %s\n' "$default_rules" "$user" "$hash" "$rules" >/run/redis/users.acl
exec redis-server --bind 0.0.0.0 --protected-mode yes --port 6379 --dir /var/lib/redis \
  --aclfile /run/redis/users.acl --maxmemory-policy noeviction --appendonly yes \
  --save 60 1000 --daemonize no --logfile ""
