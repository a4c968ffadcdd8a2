"""What a Django + Celery project adds to be deployed with every guarantee of the django_celery.deploy collection.

Add ``"django_celery_deploy"`` to INSTALLED_APPS and you get, through this public API:

* ``django_celery_deploy.env``: the env-file loader every process and the deploy share,
  and typed getters that name the variable a bad value came from;
* ``django_celery_deploy.brokers``: DATABASE_URL parsing and the broker choice
  (Redis when REDIS_URL is set, behind Sentinel when it is a ``sentinel://`` list,
  else a database broker on the Django database), decided once from configuration,
  and the Celery and cache settings that go with it
  (``django_celery_deploy.cache.SentinelRedisCache`` and
  ``django_celery_deploy.sentinel_transport`` follow the master through a failover);
* ``django_celery_deploy.routing``: the queue table (queues, default queue, routes)
  read from one JSON file that the Ansible roles read too;
* at every ``migrate``: the database broker's schema (pgmq's SQL, no server
  extension) or kombu's tables, the cache table, and the default beat schedule;
* ``manage.py probe_queues`` (a task's round trip through each queue),
  ``manage.py beat_health`` and ``manage.py sync_schedule``;
* ``django_celery_deploy.health.healthz``: live / busy / down per queue from the
  workers' heartbeats (``django_celery_deploy.models.WorkerHeartbeat``, one row per
  worker and queue), without a broker round trip per request;
* ``django_celery_deploy.tasks.health_check``: the probe task a queue's round trip runs
  (routed to every queue by the queue table);
* ``django_celery_deploy.beat.SingleBeatScheduler``: django-celery-beat's
  DatabaseScheduler behind a lock, so a second beat stands by;
* ``django_celery_deploy.results.FinalStateDatabaseBackend``: a finished task's
  state is never overwritten by a late one; ``SubscribeOnWaitRedisBackend``;
* ``django_celery_deploy.task_base.RequeueOnDatabaseLoss`` and
  ``django_celery_deploy.pgmq_transport``: a task or a settle cut off by a
  PostgreSQL restart is run or settled again instead of being lost.
"""

__version__ = "0.1.0"
