"""Kubernetes Events on pods whose annotation is invalid, so the team that
owns the pod sees the problem in ``kubectl describe pod``.

An Event's name is derived from the pod's uid and annotation text: a
CronJob run every minute creates it once (the next runs get 409 Already
Exists), and a changed annotation gets a new Event.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import socket
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import quote

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from lib.kube.client import KubeApi
from lib.model import Problem

log = logging.getLogger(__name__)

REASON_INVALID = "InvalidRPCServiceAnnotation"
REASON_DENIED = "ServiceClaimDenied"

# An object name is a DNS subdomain: at most 253 characters.
MAX_NAME = 253
DIGEST_LENGTH = 16
_SUFFIX = ".kube2zk."

# Names of Events already created, kept for a long-lived loop; one forgotten
# and needed again costs a single 409 Already Exists.
SENT_LIMIT = 4096


def event_name(reason: str, uid: str, annotation: str | None, pod: str) -> str:
    """A name unique per reason, pod uid and annotation text, and a valid
    DNS subdomain whatever the pod's name (events.k8s.io/v1 and validating
    clients refuse any other, though the core/v1 endpoint stores it).

    The pod's name only makes ``kubectl get events`` readable: a pod name may
    itself be 253 characters, so it is cut to fit, and cut back to a letter
    or digit so that no label ends in '-' and no label is empty.
    """
    text = f"{reason}\0{uid}\0{annotation}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(text).hexdigest()[:DIGEST_LENGTH]
    prefix = pod[: MAX_NAME - len(_SUFFIX) - DIGEST_LENGTH].rstrip(".-")
    return f"{prefix}{_SUFFIX}{digest}" if prefix else f"{_SUFFIX[1:]}{digest}"


class EventRecorder:
    """Creates each Event once per process (and once per cluster, by name).

    ``kube`` replaces the client built from ``api``, for callers (and tests)
    that bring their own.
    """

    def __init__(
        self,
        api: client.ApiClient | None,
        enabled: bool = True,
        *,
        kube: KubeApi | None = None,
        remember: int = SENT_LIMIT,
    ):
        if not enabled:
            kube = None
        elif kube is None and api is not None:
            kube = KubeApi(api)
        self.kube = kube
        self.sent: OrderedDict[str, None] = OrderedDict()
        self.remember = remember
        self.instance = socket.gethostname()
        self._forbidden_logged = False

    def problems(self, problems: Iterable[Problem]) -> None:
        """One Warning Event per pod, annotation text and kind (invalid
        entries, refused claims), naming every reason."""
        if self.kube is None:
            return
        by_pod: dict[tuple[str, bool], list[Problem]] = {}
        for problem in problems:
            if problem.source is not None:
                by_pod.setdefault((problem.pod, problem.denied), []).append(problem)
        for (_, denied), items in by_pod.items():
            reason = REASON_DENIED if denied else REASON_INVALID
            pod = items[0].source
            assert pod is not None
            name = event_name(reason, pod.uid, pod.annotation, pod.name)
            if name in self.sent:
                self.sent.move_to_end(name)
                continue
            message = "; ".join(p.reason for p in items)
            self._create(pod.namespace, name, pod.name, pod.uid, reason, message[:1000])
            self._remember(name)

    def _remember(self, name: str) -> None:
        self.sent[name] = None
        while len(self.sent) > self.remember:
            self.sent.popitem(last=False)

    def _create(self, namespace: str, name: str, pod: str, uid: str, reason: str, message: str) -> None:
        assert self.kube is not None
        now = datetime.datetime.now(datetime.UTC)
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": namespace, "uid": uid},
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": "kube2zk"},
            "reportingComponent": "kube2zk",
            "reportingInstance": self.instance,
            "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
        }
        try:
            self.kube.request(
                "POST", f"/api/v1/namespaces/{quote(namespace, safe='')}/events", body=body, timeout=10
            ).release_conn()
        except ApiException as exc:
            if exc.status == 409:
                return
            if exc.status == 403 and not self._forbidden_logged:
                self._forbidden_logged = True
                log.warning("cannot create Events (403 Forbidden): grant 'create' on events or pass --events=false")
            elif exc.status != 403:
                log.warning("creating Event %s/%s failed: HTTP %s", namespace, name, exc.status)
        except Exception as exc:  # an Event is best effort; the sync must go on
            log.warning("creating Event %s/%s failed: %s", namespace, name, exc)
