import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the superuser, or reset its password, from an environment variable. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")
        parser.add_argument(
            "--password-env", default="ADMIN_PASSWORD", help="variable holding the password (never on the command line)"
        )

    def handle(self, *args, **options):
        password = os.environ.get(options["password_env"], "")
        if len(password) < 12:
            raise CommandError(f"{options['password_env']} must hold a password of at least 12 characters")
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=options["username"], defaults={"email": options["email"], "is_staff": True, "is_superuser": True}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
            self.stdout.write(f"{'Created' if created else 'Updated'} superuser {user.username}.")
