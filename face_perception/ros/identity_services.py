"""The face node's identity services: enrol a face seen by the camera, forget and list people.

``identity/enroll`` waits, without holding up the node's executor, while the frame loop collects
good frames of the face (``core.enrolment``); ``identity/forget`` and ``identity/list`` answer at
once. Embeddings never leave the node: the services carry names and counts only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from face_perception.core.enrolment import DEFAULT_TIMEOUT_S, EnrolmentCollector
from face_perception.core.errors import FacePerceptionError
from face_perception.core.identity import FaceIdentifier
from face_perception.core.types import FaceResult
from face_perception.srv import EnrollFace, ForgetPerson, ListPeople

# How long the enrol callback blocks the executor between looks at its enrolment (s): short, so
# camera frames keep flowing to the worker meanwhile.
POLL_S = 0.01
# Slack past the enrolment's own deadline before the service gives up on the frame loop.
GRACE_S = 2.0
IDENTITY_OFF = "identity is off: set the parameter identity.gallery to a gallery file"


class _Yield:
    """Awaitable that hands control back to the executor once."""

    def __await__(self):
        yield


class IdentityServices:
    """Creates the three services on ``node``; ``identifier()`` gives the configured FaceIdentifier or None."""

    def __init__(self, node: Node, identifier: Callable[[], FaceIdentifier | None]) -> None:
        self._node = node
        self._identifier = identifier
        self._lock = threading.Lock()
        self._enrolment: EnrolmentCollector | None = None
        # A group of their own: while an enrolment waits, the camera callbacks (default group) still run.
        group = MutuallyExclusiveCallbackGroup()
        node.create_service(EnrollFace, "identity/enroll", self._enroll, callback_group=group)
        node.create_service(ForgetPerson, "identity/forget", self._forget, callback_group=group)
        node.create_service(ListPeople, "identity/list", self._list, callback_group=group)

    @property
    def enrolling(self) -> bool:
        return self._enrolment is not None

    def offer(self, image_bgr: np.ndarray, faces: list[tuple[int, FaceResult]]) -> None:
        """A processed frame (from the frame loop) for the enrolment in progress."""
        enrolment = self._enrolment
        if enrolment is not None:
            enrolment.offer(image_bgr, faces)

    def cancel(self, reason: str) -> None:
        with self._lock:
            enrolment, self._enrolment = self._enrolment, None
        if enrolment is not None:
            enrolment.cancel(reason)

    async def _enroll(self, request: EnrollFace.Request, response: EnrollFace.Response) -> EnrollFace.Response:
        identifier = self._identifier()
        if identifier is None:
            return self._refuse(response, IDENTITY_OFF)
        if not self._node.worker.running:
            return self._refuse(response, "the node is not active: no camera frames to enrol from")
        try:
            enrolment = EnrolmentCollector(
                identifier, request.name, int(request.face_id), int(request.frames), float(request.timeout_s)
            )
        except FacePerceptionError as error:
            return self._refuse(response, str(error))
        with self._lock:
            if self._enrolment is not None:
                return self._refuse(response, f"already enrolling {self._enrolment.name!r}; try again after it")
            self._enrolment = enrolment
        give_up = time.monotonic() + (request.timeout_s or DEFAULT_TIMEOUT_S) + GRACE_S
        try:
            while not enrolment.wait(POLL_S):
                if time.monotonic() > give_up:  # the frame loop stopped offering frames (no camera)
                    enrolment.expire()
                    break
                await _Yield()
        finally:
            with self._lock:
                if self._enrolment is enrolment:
                    self._enrolment = None
        outcome = enrolment.outcome
        response.success = outcome.success
        response.message = outcome.message
        response.embeddings = outcome.embeddings
        response.face_id = outcome.face_id
        log = self._node.get_logger()
        (log.info if outcome.success else log.warning)(f"identity/enroll: {outcome.message}")
        return response

    def _forget(self, request: ForgetPerson.Request, response: ForgetPerson.Response) -> ForgetPerson.Response:
        identifier = self._identifier()
        if identifier is None:
            return self._refuse(response, IDENTITY_OFF)
        try:
            response.removed = identifier.gallery.forget(request.name)
        except FacePerceptionError as error:
            return self._refuse(response, str(error))
        response.success = True
        response.message = f"forgot {request.name.strip()}: {response.removed} embedding(s) removed"
        self._node.get_logger().info(f"identity/forget: {response.message}")
        return response

    def _list(self, request: ListPeople.Request, response: ListPeople.Response) -> ListPeople.Response:
        identifier = self._identifier()
        if identifier is None:
            return self._refuse(response, IDENTITY_OFF)
        try:
            people = identifier.gallery.people()
        except FacePerceptionError as error:
            return self._refuse(response, str(error))
        response.success = True
        response.names = [p.name for p in people]
        response.embeddings = [p.embeddings for p in people]
        response.last_added_s = [p.last_added_s for p in people]
        return response

    @staticmethod
    def _refuse(response, message: str):
        response.success = False
        response.message = message
        return response
