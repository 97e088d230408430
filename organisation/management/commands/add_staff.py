"""``manage.py add_staff USERNAME --role ROLE [--district NAME] --password-file FILE`` (interfaces.md)."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from organisation.roles import Role
from organisation.services import district_by_name, staff_upsert


class Command(BaseCommand):
    help = "Create or update a member of staff with the given role(s)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            required=True,
            choices=Role.values,
            help="a role; repeat for a person with two roles",
        )
        parser.add_argument("--district", help="district name (道里, 南岗, …) for clerks and district reviewers")
        parser.add_argument("--password-file", required=True, help="file whose first line is the password")

    def handle(self, *args, username, role, district, password_file, **options):
        path = Path(password_file)
        try:
            password = path.read_text(encoding="utf-8").splitlines()[0].strip() if path.stat().st_size else ""
        except OSError as exc:
            raise CommandError(f"--password-file: cannot read {path}: {exc.strerror}") from exc
        if not password:
            raise CommandError(f"--password-file: {path} is empty")
        try:
            district_obj = district_by_name(district) if district else None
            user, created = staff_upsert(username=username, roles=role, district=district_obj, password=password)
        except ValidationError as exc:
            # A refusal by the portal's rules (interfaces.md: exit 2, nothing written).
            options = {"password": "password-file"}
            msgs = "; ".join(f"--{options.get(k, k)}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(msgs, returncode=2) from exc
        verb = "created" if created else "updated"
        where = f" in {user.district.name}" if user.district else ""
        self.stdout.write(f"{verb} {user.username}: {', '.join(sorted(role))}{where}")
