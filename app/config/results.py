"""Result backends for the app.

Celery's Redis result backend subscribes (pub/sub) to the result channel of every
task a non-worker process sends, in case it is waited on. The web process sends
many tasks and waits on none (the API polls the stored state), so the set of
subscriptions grows without bound and unread results pile up in the connection
until Redis drops it (client-output-buffer-limit pubsub). Subscribing only when
someone waits loses nothing: get() subscribes, then reads the stored result.
"""

from celery.backends.redis import RedisBackend


class SubscribeOnWaitRedisBackend(RedisBackend):
    def on_task_call(self, producer, task_id):
        # Celery subscribes here for every task sent; get() subscribes on its own.
        return None
