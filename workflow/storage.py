"""Storage for scans: under PORTAL_MEDIA_ROOT, outside the static root, with no public URL."""

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_storage() -> FileSystemStorage:
    """A callable, so that migrations do not freeze the path of one machine."""
    return FileSystemStorage(location=settings.MEDIA_ROOT, base_url=None)
