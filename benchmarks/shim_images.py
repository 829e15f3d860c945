"""The reference shim's image RPCs next to the raw Docker calls they make, and ListImages scaling.

    python benchmarks/shim_images.py [--counts 10,100,500] [--samples 20]
                                     [--image-registry 127.0.0.1:5000]

Starts the shim (Docker backend) through its launcher, then:

1. ``--samples`` rounds of PullImage, ImageStatus and RemoveImage of an image of the run's own,
   each round three ways: through CRI; through the shim's image layer called in this process
   (``reference_shim.cri.images`` over image records kept by Docker's image events, as the
   shim keeps them, and the Docker backend's Engine client, no gRPC); and as the bare Docker
   calls that answer the same (pull and inspect; inspect; inspect and removal by id) through
   a stock Docker SDK client, as ``shim_latency.py`` makes them. While it follows Docker's
   events the shim makes fewer: none for ImageStatus and ListImages.
2. The run's images grown to each of ``--counts`` (pulled through the shim), then
   ``--samples`` calls of ListImages and ImageStatus the same three ways (Docker: the image
   list; an inspect).

Prints p50 per call, the shim/Docker and in-process/Docker ratios of the p50s, and for
ListImages the ratio of each count's p50 to the first count's. The first line gives the p50
of Version, an RPC that makes no engine call: the gRPC round trip every CRI call pays on top
of its engine calls. Docker lists every image it holds, other people's too: the listed column
says how many there were. The images are the bench's own
(``harness.bench.images``: pushed to the registry with the run label in their config, so a
distinct id each); an image is removed only when its tags are all the run's, and every one
left is removed at the end. All traffic stays on this machine.
"""

from __future__ import annotations

import argparse
import threading
from functools import partial
from typing import Any, Protocol

import docker
from cri_api.v1 import api_pb2 as cri
from docker.utils import parse_repository_tag

from harness.bench.images import OwnImages
from harness.bench.operations import Timings
from harness.bench.stats import percentile
from harness.client import CriClient
from harness.endpoints import Endpoints
from harness.images.catalog import prepare
from harness.images.registry import DEFAULT_ADDRESS
from harness.ownership import RunOwnership, new_run_id
from reference_shim.backends.docker.engine_client import engine_client
from reference_shim.backends.docker.host import docker_host
from reference_shim.backends.docker.images import DockerImages
from reference_shim.cri.image_records import ImageRecords
from reference_shim.cri.images import Images
from reference_shim.launcher import ShimLauncher

LIFECYCLE = ("PullImage", "ImageStatus", "RemoveImage")
SCALED = ("ListImages", "ImageStatus")
WAYS = ("shim", "in-process", "docker")
RPC_TIMEOUT_S = 60


class ImageCalls(Protocol):
    """The image calls of ``harness.client.CriClient`` this script makes."""

    def pull_image(self, image: str) -> str: ...

    def image_status(self, image: str) -> cri.ImageStatusResponse: ...

    def remove_image(self, image: str) -> None: ...

    def list_images(self) -> list[cri.Image]: ...


class InProcess:
    """The shim's image layer called directly, its records kept current as the shim keeps them
    (Docker's image events): the shim's work without the gRPC round trip."""

    def __init__(self, api: Any) -> None:
        self._store = DockerImages(api)
        records = ImageRecords(self._store)
        self._images = Images(records, pod_image="")
        self._stop = threading.Event()
        self._store.events.start()
        threading.Thread(
            target=self._store.watch_images, args=(records, self._stop), daemon=True
        ).start()

    def close(self) -> None:
        self._stop.set()
        self._store.events.stop()

    def pull_image(self, image: str) -> str:
        return self._images.pull(cri.PullImageRequest(image=cri.ImageSpec(image=image)))

    def image_status(self, image: str) -> cri.ImageStatusResponse:
        return self._images.status(cri.ImageStatusRequest(image=cri.ImageSpec(image=image)))

    def remove_image(self, image: str) -> None:
        self._images.remove(cri.RemoveImageRequest(image=cri.ImageSpec(image=image)))

    def list_images(self) -> list[cri.Image]:
        return list(self._images.list(cri.ListImagesRequest()).images)


class RawDocker:
    """The Docker calls the shim makes for each image call, without the shim around them."""

    def __init__(self, api: Any, own: OwnImages) -> None:
        self._api = api
        self._own = own

    def pull_image(self, image: str) -> str:
        repository, tag = parse_repository_tag(image)
        self._api.pull(repository, tag=tag)
        return str(self._api.inspect_image(image)["Id"])

    def image_status(self, image: str) -> cri.ImageStatusResponse:
        inspected = self._api.inspect_image(image)
        return cri.ImageStatusResponse(
            image=cri.Image(id=inspected["Id"], repo_tags=inspected["RepoTags"])
        )

    def remove_image(self, image: str) -> None:
        inspected = self._api.inspect_image(image)
        self._own.check(cri.Image(id=inspected["Id"], repo_tags=inspected["RepoTags"]))
        self._api.remove_image(inspected["Id"], force=True)

    def list_images(self) -> list[cri.Image]:
        self._api.images()
        return []


def image_round(calls: ImageCalls, own: OwnImages, image: str, timings: Timings) -> None:
    timings.timed("PullImage", lambda: calls.pull_image(image))
    status = timings.timed("ImageStatus", lambda: calls.image_status(image))
    own.check(status.image)
    timings.timed("RemoveImage", lambda: calls.remove_image(image))


def lifecycle(ways: dict[str, ImageCalls], own: OwnImages, samples: int) -> dict[str, Timings]:
    (image,) = own.push(1)
    timings = {way: Timings() for way in ways}
    for calls in ways.values():
        image_round(calls, own, image, Timings())  # warm-up: layers, connections
    for _ in range(samples):
        for way, calls in ways.items():
            image_round(calls, own, image, timings[way])
    return timings


def scaling(
    ways: dict[str, ImageCalls], own: OwnImages, counts: list[int], samples: int
) -> list[tuple[int, int, dict[str, Timings]]]:
    """Per count: how many images Docker listed, and the timings of each way."""
    client = ways["shim"]
    measured = []
    references = own.push(counts[-1])
    probe = references[0]
    pulled = 0
    for count in counts:
        for image in references[pulled:count]:
            client.pull_image(image)
        pulled = count
        listed = len(client.list_images())
        ways["in-process"].list_images()  # warm-up: images pulled by others since
        timings = {way: Timings() for way in ways}
        for _ in range(samples):
            for way, calls in ways.items():
                timings[way].timed("ListImages", calls.list_images)
                timings[way].timed("ImageStatus", partial(calls.image_status, probe))
        measured.append((count, listed, timings))
    return measured


def _p50(timings: Timings, operation: str) -> float:
    return percentile(timings.samples[operation], 50)


def _row(cells: list[str]) -> str:
    return "".join(cell.rjust(15) for cell in cells)


def _times(timings: dict[str, Timings], operation: str) -> list[str]:
    """p50 of each way, then shim/docker and in-process/docker."""
    shim, handler, raw = (_p50(timings[way], operation) for way in WAYS)
    return [
        *(f"{p50 * 1000:.2f}ms" for p50 in (shim, handler, raw)),
        f"{shim / raw:.2f}x",
        f"{handler / raw:.2f}x",
    ]


def report(transport: Timings, once: dict[str, Timings], scaled: list[Any]) -> None:
    print(
        f"gRPC round trip (Version, no engine call): p50 {_p50(transport, 'Version') * 1000:.2f}ms"
    )
    ratios = ["shim/docker", "in-proc/dock"]
    print(_row(["call", *(f"{way} p50" for way in WAYS), *ratios]))
    for operation in LIFECYCLE:
        print(_row([operation, *_times(once, operation)]))
    print()
    print(_row(["images", "listed", "call", *(f"{way} p50" for way in WAYS), *ratios, "vs first"]))
    first = _p50(scaled[0][2]["shim"], "ListImages")
    for count, listed, timings in scaled:
        for operation in SCALED:
            versus = _p50(timings["shim"], operation) / first
            cells = [str(count), str(listed), operation, *_times(timings, operation)]
            print(_row([*cells, f"{versus:.2f}x" if operation == "ListImages" else ""]))


def _counts(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(","))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=_counts, default=[10, 100, 500], metavar="N[,N]")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--image-registry", default=DEFAULT_ADDRESS, metavar="HOST:PORT")
    args = parser.parse_args()
    catalog = prepare(args.image_registry, publish=False)
    own = OwnImages(catalog.busybox, RunOwnership(new_run_id()))
    with ShimLauncher(backend="docker", strategy="reject") as launcher:
        client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "bench"), RPC_TIMEOUT_S)
        client.connect()
        in_process = InProcess(engine_client(docker_host(), RPC_TIMEOUT_S))
        ways: dict[str, ImageCalls] = {
            "shim": client,
            "in-process": in_process,
            "docker": RawDocker(docker.APIClient(base_url=docker_host(), version="auto"), own),
        }
        try:
            transport = Timings()
            for _ in range(args.samples):
                transport.timed("Version", client.version)
            once = lifecycle(ways, own, args.samples)
            scaled = scaling(ways, own, args.counts, args.samples)
        finally:
            removed = own.remove_all(client)
            client.close()
            in_process.close()
    print(f"{args.samples} samples, Docker at {docker_host()}, {removed} images of the run removed")
    report(transport, once, scaled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
