"""Image RPCs over the shim's image records (``image_records.py``), with CRI's view of an image."""

from __future__ import annotations

import base64

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import ImageInfo
from reference_shim.cri import validation
from reference_shim.cri.convert.messages import verbose_info
from reference_shim.cri.image_records import ImageRecords
from reference_shim.errors import InvalidArgument
from reference_shim.timestamps import now_ns


def _credentials(auth: cri.AuthConfig) -> tuple[str, str]:
    """Username and password, also from the base64 ``auth`` form docker config files use
    (``base64("user:password")``); any other ``auth`` is the caller's mistake, said as such."""
    if auth.username or auth.password or not auth.auth:
        return auth.username, auth.password
    try:
        decoded = base64.b64decode(auth.auth, validate=True).decode()
    except ValueError as error:  # not base64 (binascii.Error), not ASCII, not UTF-8 once decoded
        raise InvalidArgument(f"auth.auth is not base64 of UTF-8 text: {error}") from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidArgument("auth.auth must be base64 of 'user:password'; it has no ':'")
    return user, password


def to_cri_image(info: ImageInfo, pinned_reference: str) -> cri.Image:
    image = cri.Image(
        id=info.id,
        repo_tags=info.repo_tags,
        repo_digests=info.repo_digests,
        size=info.size,
        spec=cri.ImageSpec(image=info.id),
        pinned=pinned_reference in info.repo_tags,
    )
    user = info.user.split(":", 1)[0]
    if user.isdigit():
        image.uid.value = int(user)
    elif user:
        image.username = user
    return image


class ConvertedImages:
    """CRI's view of each listed image, kept while its record stays the same object (the
    records keep theirs until a change replaces it), and the whole answer while the records
    answer with the same list: converting every image and copying it into the answer on every
    ListImages was most of what the shim did for a list of a few hundred images. The messages
    are shared, and never changed once made."""

    def __init__(self, pod_image: str) -> None:
        self._pod_image = pod_image
        self._by_id: dict[str, tuple[ImageInfo, cri.Image]] = {}
        self._answered: tuple[list[ImageInfo], cri.ListImagesResponse] | None = None

    def response(self, infos: list[ImageInfo]) -> cri.ListImagesResponse:
        answered = self._answered
        if answered is not None and answered[0] is infos:
            return answered[1]
        response = cri.ListImagesResponse(images=self.of(infos))
        self._answered = (infos, response)
        return response

    def of(self, infos: list[ImageInfo]) -> list[cri.Image]:
        """``infos`` in CRI's terms; what is kept is only what this list had."""
        kept, converted = self._by_id, {}
        for info in infos:
            entry = kept.get(info.id)
            if entry is None or entry[0] is not info:
                entry = (info, to_cri_image(info, self._pod_image))
            converted[info.id] = entry
        self._by_id = converted
        return [image for _, image in converted.values()]


class Images:
    def __init__(self, records: ImageRecords, pod_image: str) -> None:
        self._records = records
        self._pod_image = pod_image
        self._converted = ConvertedImages(pod_image)

    def pull(self, request: cri.PullImageRequest) -> str:
        reference = validation.image_name(request.image)
        username, password = _credentials(request.auth)
        return self._records.pull(reference, username, password).id

    def status(self, request: cri.ImageStatusRequest) -> cri.ImageStatusResponse:
        """An image that is not there is an empty answer, not an error (CRI)."""
        info = self._records.get(validation.image_name(request.image))
        if info is None:
            return cri.ImageStatusResponse()
        response = cri.ImageStatusResponse(image=to_cri_image(info, self._pod_image))
        if request.verbose:
            response.info.update(
                verbose_info(
                    {
                        "id": info.id,
                        "user": info.user,
                        "entrypoint": list(info.entrypoint),
                        "cmd": list(info.cmd),
                    }
                )
            )
        return response

    def list(self, request: cri.ListImagesRequest) -> cri.ListImagesResponse:
        wanted = request.filter.image.image
        if wanted:
            validation.image_reference(wanted, "filter.image.image")
            info = self._records.get(wanted)
            found = [to_cri_image(info, self._pod_image)] if info is not None else []
            return cri.ListImagesResponse(images=found)
        return self._converted.response(self._records.list_images())

    def remove(self, request: cri.RemoveImageRequest) -> None:
        """Idempotent; removes the image with all its tags, whichever name it is given by."""
        info = self._records.get(validation.image_name(request.image))
        if info is not None:
            self._records.remove(info.id)

    def fs_info(self) -> cri.ImageFsInfoResponse:
        usage = self._records.backend.fs_usage()
        filesystem = cri.FilesystemUsage(
            timestamp=now_ns(),
            fs_id=cri.FilesystemIdentifier(mountpoint=usage.mountpoint),
            used_bytes=cri.UInt64Value(value=usage.used_bytes),
            inodes_used=cri.UInt64Value(value=usage.inodes_used),
        )
        return cri.ImageFsInfoResponse(
            image_filesystems=[filesystem], container_filesystems=[filesystem]
        )
