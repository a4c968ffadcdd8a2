"""Django's Redis cache behind Redis Sentinel.

Django's RedisCache connects to fixed addresses; after a failover it would keep
writing to the old master (now gone, or a read-only replica). This subclass asks
the sentinels for the current master, as kombu and Celery do for the broker and
the result backend, so the one ``sentinel://`` list in REDIS_URL serves all three.
Written here because django-redis, the maintained library that does this, replaces
Django's backend wholesale (its own client, serializer and settings) for one feature.

    CACHES = {"default": brokers.cache_settings(BROKER, key_prefix="shop")}
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from .brokers import sentinel_addresses


class SentinelRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, master_name=None, sentinel_kwargs=None, **options):
        if not master_name:
            raise ValueError("SentinelRedisCache needs OPTIONS['master_name'] (REDIS_SENTINEL_MASTER)")
        self._master_name = master_name
        self._sentinel_kwargs = sentinel_kwargs or {}
        super().__init__(servers, **options)

    def _get_connection_pool_index(self, write):
        return 0  # one pool: reads and writes both go to the master Sentinel names

    def _get_connection_pool(self, write):
        if 0 not in self._pools:
            from redis.sentinel import Sentinel

            first = urlsplit(self._servers[0])
            auth = {}
            if first.username:
                auth["username"] = unquote(first.username)
            if first.password:
                auth["password"] = unquote(first.password)
            db = int(first.path.lstrip("/") or 0)
            addresses = sentinel_addresses(";".join(self._servers))
            sentinel = Sentinel(addresses, sentinel_kwargs=self._sentinel_kwargs, **auth)
            options = {key: value for key, value in self._pool_options.items() if key != "parser_class"}
            client = sentinel.master_for(self._master_name, db=db, **options)
            self._pools[0] = client.connection_pool
        return self._pools[0]


class SentinelRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SentinelRedisCacheClient
