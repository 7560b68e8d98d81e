# Starts the Redis server (`start.sh redis`) or the sentinel (`start.sh sentinel`) of a travel-redis
# pod (redis.yaml). The password comes from the Secret's file into a file only this pod reads.
set -eu
domain=travel-redis-nodes.travel.svc.cluster.local
me="$(hostname).$domain"
password=$(cat /etc/redis-auth/password)
# The primary the sentinels know of; none answers on the very first start: travel-redis-0.
primary=""
for n in 0 1 2; do
    primary=$(redis-cli -h "travel-redis-$n.$domain" -p 26379 sentinel get-master-addr-by-name travel 2>/dev/null | head -n 1) || true
    [ -n "$primary" ] && break
done
[ -n "$primary" ] || primary="travel-redis-0.$domain"
umask 077
if [ "$1" = redis ]; then
    printf 'requirepass %s\nmasterauth %s\n' "$password" "$password" > /run/redis/auth.conf
    set -- /run/redis/auth.conf --dir /data --appendonly yes --appendfsync everysec \
        --replica-announce-ip "$me"
    [ "$primary" = "$me" ] || set -- "$@" --replicaof "$primary" 6379
    exec redis-server "$@"
fi
printf '%s\n' "port 26379" "sentinel resolve-hostnames yes" "sentinel announce-hostnames yes" \
    "sentinel announce-ip $me" "sentinel monitor travel $primary 6379 2" "sentinel auth-pass travel $password" \
    "sentinel down-after-milliseconds travel 5000" "sentinel failover-timeout travel 30000" \
    > /run/redis/sentinel.conf
exec redis-sentinel /run/redis/sentinel.conf
