"""Push images from an OCI layout to a registry over the OCI distribution HTTP API.

Hand-written on the standard library, because the user's machine should need nothing but the
package and a registry: ``skopeo`` (what this used before) is a tool people lack, and PyPI has
no well-kept client for pushing (docker-registry-client was last released in 2017; oras needs
more than it gives here). What a push needs is small: per blob, a HEAD to skip what the
registry holds and a monolithic POST+PUT upload; then the manifests, children first, and the
index under each tag. Registries on loopback speak plain HTTP, others HTTPS; a registry that
asks for credentials is refused with a message (the test registries are open).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from harness.images import oci

TIMEOUT = 60.0


class PushError(Exception):
    """The registry refused or did not answer; the message names the request."""


def base_url(registry: str) -> str:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry
    plain = host in ("localhost", "[::1]") or host.startswith("127.")
    return f"{'http' if plain else 'https'}://{registry}"


@dataclass(frozen=True)
class Repository:
    """One repository of a registry: ``host[:port]/path``."""

    registry: str
    name: str

    def url(self, path: str) -> str:
        return f"{base_url(self.registry)}/v2/{self.name}/{path}"

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(url, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            if method == "HEAD" and error.code == 404:
                return 404, {}
            detail = error.read().decode(errors="replace").strip()[:300]
            hint = " (the registry wants credentials)" if error.code == 401 else ""
            raise PushError(f"{method} {url}: HTTP {error.code}{hint} {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            raise PushError(f"{method} {url}: {error}") from None

    def has_blob(self, digest: str) -> bool:
        return self._request("HEAD", self.url(f"blobs/{digest}"))[0] == 200

    def put_blob(self, digest: str, data: bytes) -> None:
        _, headers = self._request("POST", self.url("blobs/uploads/"), b"")
        location = headers.get("Location") or headers.get("location")
        if not location:
            raise PushError(f"POST {self.url('blobs/uploads/')}: no Location header")
        upload = urllib.parse.urljoin(self.url(""), location)
        separator = "&" if "?" in upload else "?"
        digest_query = urllib.parse.urlencode({"digest": digest})
        self._request("PUT", f"{upload}{separator}{digest_query}", data)

    def put_manifest(self, reference: str, descriptor: oci.Descriptor, data: bytes) -> None:
        self._request("PUT", self.url(f"manifests/{reference}"), data, descriptor.media_type)


def push_tree(layout: oci.Layout, repository: Repository, top: oci.Descriptor) -> None:
    """Push ``top`` (an index or a manifest) and all it points at, by digest."""
    if top.media_type in (oci.INDEX, oci.MANIFEST):
        for child in layout.children(top):
            push_tree(layout, repository, child)
        repository.put_manifest(top.digest, top, layout.blob_path(top.digest).read_bytes())
    elif not repository.has_blob(top.digest):
        repository.put_blob(top.digest, layout.blob_path(top.digest).read_bytes())


def push_tags(
    layout: oci.Layout, repository: Repository, top: oci.Descriptor, tags: tuple[str, ...]
) -> None:
    """Push ``top`` with everything below it, then name it by each of ``tags``."""
    push_tree(layout, repository, top)
    data = layout.blob_path(top.digest).read_bytes()
    for tag in tags:
        repository.put_manifest(tag, top, data)
