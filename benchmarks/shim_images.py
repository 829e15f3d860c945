"""The reference shim's image RPCs next to the raw Docker calls they make, and ListImages scaling.

    python benchmarks/shim_images.py [--counts 10,100,500] [--samples 20]
                                     [--image-registry 127.0.0.1:5000]

Starts the shim (Docker backend) through its launcher, then:

1. ``--samples`` rounds of PullImage, ImageStatus and RemoveImage of an image of the run's own,
   each round once through CRI and once as the bare Docker calls the shim makes for it (pull
   and inspect; inspect; inspect and removal by id).
2. The run's images grown to each of ``--counts`` (pulled through the shim), then
   ``--samples`` calls of ListImages and ImageStatus through CRI and of the Docker call each
   makes (the image list; an inspect).

Prints p50 per call for both sides and the shim/Docker ratio of the p50s, and for ListImages
the ratio of each count's p50 to the first count's. Docker lists every image it holds, other
people's too: the listed column says how many there were. The images are the bench's own
(``harness.bench.images``: pushed to the registry with the run label in their config, so a
distinct id each); an image is removed only when its tags are all the run's, and every one
left is removed at the end. All traffic stays on this machine.
"""

from __future__ import annotations

import argparse
from typing import Any

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
from reference_shim.launcher import ShimLauncher

LIFECYCLE = ("PullImage", "ImageStatus", "RemoveImage")
RPC_TIMEOUT_S = 60


def shim_round(client: CriClient, own: OwnImages, image: str, timings: Timings) -> None:
    timings.timed("PullImage", lambda: client.pull_image(image))
    status = timings.timed("ImageStatus", lambda: client.image_status(image))
    own.check(status.image)
    timings.timed("RemoveImage", lambda: client.remove_image(image))


def docker_round(api: Any, own: OwnImages, image: str, timings: Timings) -> None:
    """The Docker calls of ``shim_round``, without the CRI layer around them."""
    repository, tag = parse_repository_tag(image)

    def pull() -> None:
        api.pull(repository, tag=tag)
        api.inspect_image(image)

    def remove() -> None:
        inspected = api.inspect_image(image)
        own.check(cri.Image(id=inspected["Id"], repo_tags=inspected["RepoTags"]))
        api.remove_image(inspected["Id"], force=True)

    timings.timed("PullImage", pull)
    timings.timed("ImageStatus", lambda: api.inspect_image(image))
    timings.timed("RemoveImage", remove)


def lifecycle(client: CriClient, api: Any, own: OwnImages, samples: int) -> tuple[Timings, ...]:
    (image,) = own.push(1)
    shim_round(client, own, image, Timings())  # warm-up: layers, connections
    docker_round(api, own, image, Timings())
    shim, raw = Timings(), Timings()
    for _ in range(samples):
        shim_round(client, own, image, shim)
        docker_round(api, own, image, raw)
    return shim, raw


def scaling(
    client: CriClient, api: Any, own: OwnImages, counts: list[int], samples: int
) -> list[tuple[int, int, Timings, Timings]]:
    """Per count: how many images Docker listed, the shim's timings and Docker's."""
    measured = []
    references = own.push(counts[-1])
    probe = references[0]
    pulled = 0
    for count in counts:
        for image in references[pulled:count]:
            client.pull_image(image)
        pulled = count
        shim, raw = Timings(), Timings()
        listed = len(client.list_images())  # warm-up: images pulled by others since
        for _ in range(samples):
            shim.timed("ListImages", client.list_images)
            raw.timed("ListImages", api.images)
            shim.timed("ImageStatus", lambda: client.image_status(probe))
            raw.timed("ImageStatus", lambda: api.inspect_image(probe))
        measured.append((count, listed, shim, raw))
    return measured


def _p50(timings: Timings, operation: str) -> float:
    return percentile(timings.samples[operation], 50)


def _row(cells: list[str]) -> str:
    return "".join(cell.rjust(14) for cell in cells)


def report(lifecycle_timings: tuple[Timings, ...], scaled: list[Any]) -> None:
    shim, raw = lifecycle_timings
    print(_row(["call", "shim p50", "docker p50", "shim/docker"]))
    for operation in LIFECYCLE:
        print(_ratio_row([operation], _p50(shim, operation), _p50(raw, operation)))
    print()
    print(_row(["images", "listed", "call", "shim p50", "docker p50", "shim/docker", "vs first"]))
    first = _p50(scaled[0][2], "ListImages")
    for count, listed, shim, raw in scaled:
        for operation in ("ListImages", "ImageStatus"):
            shim_p50 = _p50(shim, operation)
            versus = f"{shim_p50 / first:.2f}x" if operation == "ListImages" else ""
            cells = [str(count), str(listed), operation]
            print(_ratio_row(cells, shim_p50, _p50(raw, operation)) + versus.rjust(14))


def _ratio_row(cells: list[str], shim_p50: float, raw_p50: float) -> str:
    times = [f"{shim_p50 * 1000:.2f}ms", f"{raw_p50 * 1000:.2f}ms"]
    return _row([*cells, *times, f"{shim_p50 / raw_p50:.2f}x"])


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
    api = engine_client(docker_host(), RPC_TIMEOUT_S)  # the shim's own kind of client
    with ShimLauncher(backend="docker", strategy="reject") as launcher:
        client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "bench"), RPC_TIMEOUT_S)
        client.connect()
        try:
            timings = lifecycle(client, api, own, args.samples)
            scaled = scaling(client, api, own, args.counts, args.samples)
        finally:
            removed = own.remove_all(client)
            client.close()
    print(f"{args.samples} samples, Docker at {docker_host()}, {removed} images of the run removed")
    report(timings, scaled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
