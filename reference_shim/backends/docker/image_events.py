"""Docker's image events, for the shim's image records (``ImageChanges``).

Docker publishes an image event once its image store shows the change: ``pull`` names the
reference pulled (the id of what it names is only known by asking), ``tag``, ``untag`` and
``delete`` name the image id, ``import`` and ``load`` the id of the image made. A pull that
moves a tag to a new image sends no ``untag`` for the image that had it: whoever reads the
pulled image again must take the tag from the other. ``save`` changes nothing. An image made
by ``docker commit`` comes with no image event (a tag given to it does), only the container's
``commit`` event, whose ``imageID`` attribute names the image made: it is followed too. An
untagged BuildKit build sends neither; the records learn of it at the next full read (a
reconnect).

Docker's image events carry no owner label (the label filter of the container stream would
drop them all), and the image store is shared by everyone on the Engine, so this stream takes
every image event.
"""

from __future__ import annotations

from typing import Any

from reference_shim.backends.base import ImageChange, ImageChanges
from reference_shim.backends.docker.events import EventFollower, action, actor_id

CHANGES = {
    "pull": ImageChange.ADDED,
    "import": ImageChange.ADDED,
    "load": ImageChange.ADDED,
    "tag": ImageChange.TAGGED,
    "untag": ImageChange.UNTAGGED,
    "delete": ImageChange.REMOVED,
}


COMMIT = "commit"  # a container event: its imageID attribute names the image made


class DockerImageEvents(EventFollower[ImageChanges]):
    def __init__(self, api: Any) -> None:
        # Docker's filters: values of one key are alternatives, keys all apply. No container
        # event has the name of an image event, so this takes image events and commits.
        filters = {"type": ["image", "container"], "event": [*CHANGES, COMMIT]}
        super().__init__(api, filters, "docker-image-events")

    def _received(self, event: dict[str, Any]) -> None:
        if action(event) == COMMIT:
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            reference = str(attributes.get("imageID", ""))
            change: ImageChange | None = ImageChange.ADDED
        else:
            reference = actor_id(event)
            change = CHANGES.get(action(event))
        if reference and change is not None:
            self._tell(lambda watcher: watcher.changed(reference, change))
