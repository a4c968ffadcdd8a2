"""The package's tests: a throwaway project on SQLite, migrated once; no broker server needed."""

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["TEST_DATA_DIR"] = tempfile.mkdtemp(prefix="django-celery-deploy-tests-")
os.environ["DJANGO_SETTINGS_MODULE"] = "testproject.settings"

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402

django.setup()
call_command("migrate", verbosity=0)
call_command("check")  # the package's own checks must pass on a project wired as its README says
