"""Bursts of pod lifecycles against a shim that is SIGKILLed mid-burst, with a journal.

Each of ``workers`` threads runs pod lifecycles one after another (RunPodSandbox,
CreateContainer, StartContainer, StopContainer, RemovePodSandbox), each cut off after a step
drawn from the seed, so that the shim holds objects in every state when it dies. A controller
kills the shim once a number of RPCs (also drawn from the seed) have answered OK. The journal
keeps, per pod, which steps answered OK and which one was in flight when the shim died: that
is what a restarted shim must account for. Everything is reproducible from the seed but the
exact interleaving, which the kernel decides.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient, CriError

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
NAMESPACE = "crash-burst"
CONTAINER_NAME = "sleeper"
GREETING = "up"  # the line each container prints when it starts
_MAX_KILL_DELAY_S = 0.25  # after the chosen OK answer, so the kill lands inside RPCs


class Step(enum.IntEnum):
    RUN_POD = 1
    CREATE = 2
    START = 3
    STOP = 4
    REMOVE_POD = 5


@dataclass
class PodRun:
    """One pod's lifecycle: how far it is meant to go, what answered OK, what was cut off."""

    name: str
    last_step: Step
    pod_id: str = ""
    container_id: str = ""
    ok: set[Step] = field(default_factory=set)
    interrupted: Step | None = None

    def attempted(self, step: Step) -> bool:
        return step in self.ok or step == self.interrupted


@dataclass
class KillPlan:
    """When the shim dies: after ``after_ok`` OK answers, then ``delay_s`` more."""

    after_ok: int
    delay_s: float

    @classmethod
    def drawn(cls, rng: random.Random, workers: int) -> KillPlan:
        # From early in the burst (mostly RunPodSandbox in flight) to deep in it, when many
        # lifecycles have reached RemovePodSandbox (five OK answers each).
        return cls(after_ok=rng.randint(1, workers * 10), delay_s=rng.uniform(0, _MAX_KILL_DELAY_S))


def pod_config(name: str, logs: str) -> cri.PodSandboxConfig:
    """A pod with a log directory of its own under ``logs``, as the kubelet gives each pod."""
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace=NAMESPACE, uid=f"uid-{name}"),
        log_directory=f"{logs}/{name}",
        dns_config=cri.DNSConfig(servers=["10.0.0.10"]),  # a file the shim writes for the pod
    )


def container_config() -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=CONTAINER_NAME),
        image=cri.ImageSpec(image=BUSYBOX),
        command=["sh", "-c", f"echo {GREETING}; exec sleep 3600"],
        log_path=f"{CONTAINER_NAME}.log",
    )


class Burst:
    """Run lifecycles on ``workers`` threads until ``kill`` has been called, recording each."""

    def __init__(self, client: CriClient, seed: int, workers: int, logs: str) -> None:
        self.client = client
        self.seed = seed
        self.workers = workers
        self.logs = logs
        self.runs: list[PodRun] = []
        self.errors: list[str] = []  # failures that the kill does not explain
        self.ok_answers = 0
        self.killed = threading.Event()
        self.killed_at: datetime | None = None
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)

    def wait_for_ok_answers(self, count: int, timeout: float) -> None:
        with self._answered:
            self._answered.wait_for(lambda: self.ok_answers >= count, timeout)

    def run(self, plan: KillPlan, kill: Callable[[], object], timeout: float = 120.0) -> None:
        """Start the workers, kill the shim as planned, and wait for every worker to end."""
        threads = [
            threading.Thread(target=self._worker, args=(number,), name=f"burst-{number}")
            for number in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        self.wait_for_ok_answers(plan.after_ok, timeout)
        time.sleep(plan.delay_s)
        self.killed.set()  # first: from now on a failed RPC is the kill's doing
        self.killed_at = datetime.now(UTC)
        kill()
        for thread in threads:
            thread.join(timeout)

    def _worker(self, number: int) -> None:
        rng = random.Random(f"{self.seed}-{number}")
        sequence = 0
        while not self.killed.is_set():
            pod = PodRun(f"w{number}-p{sequence}", Step(rng.randint(Step.RUN_POD, Step.REMOVE_POD)))
            with self._lock:
                self.runs.append(pod)
            if not self._lifecycle(pod):
                return
            sequence += 1

    def _lifecycle(self, pod: PodRun) -> bool:
        """Go through the pod's steps; False once one failed (the shim is gone, or a bug)."""
        config = pod_config(pod.name, self.logs)
        for step in Step:
            if step > pod.last_step:
                return True
            if self.killed.is_set():
                return False
            pod.interrupted = step
            try:
                self._call(step, pod, config)
            except CriError as error:
                if not self.killed.is_set():
                    with self._lock:
                        self.errors.append(f"{pod.name} {step.name}: {error}")
                return False
            with self._answered:
                pod.ok.add(step)
                pod.interrupted = None
                self.ok_answers += 1
                self._answered.notify_all()
        return True

    def _call(self, step: Step, pod: PodRun, config: cri.PodSandboxConfig) -> None:
        client = self.client
        if step is Step.RUN_POD:
            pod.pod_id = client.run_pod(config)
        elif step is Step.CREATE:
            pod.container_id = client.create_container(pod.pod_id, container_config(), config)
        elif step is Step.START:
            client.start_container(pod.container_id)
        elif step is Step.STOP:
            client.stop_container(pod.container_id, timeout=0)
        else:
            client.stop_pod(pod.pod_id)
            client.remove_pod(pod.pod_id)
