"""Polling until a condition holds, for the ROS tests and the processes they start."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    """True as soon as ``condition()`` is; its last value once ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def call_service(
    client: Any,
    request: Any,
    *,
    timeout_s: float = 30.0,
    resend_after_s: float | None = 2.0,
    spin: Callable[[], None] | None = None,
) -> Any:
    """The answer of ``client`` to ``request``, waiting for the service first.

    A service drops its reply when the client's reply reader is not yet matched (discovery of the reply
    path can lag the request path under load), so an unanswered request is sent again every
    ``resend_after_s``. Pass ``None`` for requests that must not repeat. ``spin`` advances the client's
    executor; without it, the node is assumed spun elsewhere.
    """
    step = spin or (lambda: time.sleep(0.02))
    deadline = time.monotonic() + timeout_s
    while not client.service_is_ready():
        assert time.monotonic() < deadline, f"{client.srv_name} not offered within {timeout_s} s"
        step()
    future, sent = client.call_async(request), time.monotonic()
    while not future.done():
        now = time.monotonic()
        assert now < deadline, f"{client.srv_name} did not answer within {timeout_s} s"
        if resend_after_s is not None and now - sent > resend_after_s:
            client.remove_pending_request(future)
            future, sent = client.call_async(request), now
        step()
    return future.result()


def change_lifecycle_state(
    change_state: Any,
    get_state: Any,
    transition_id: int,
    expected_label: str,
    *,
    timeout_s: float = 30.0,
    spin: Callable[[], None] | None = None,
) -> None:
    """Ask a lifecycle node for one transition and return once ``get_state`` reports ``expected_label``.

    The transition is requested once (a repeat would be refused in the new state); a refusal fails, and a
    lost reply is made up for by asking the node's state, which is what the caller cares about.
    """
    from lifecycle_msgs.srv import ChangeState, GetState

    step = spin or (lambda: time.sleep(0.02))
    deadline = time.monotonic() + timeout_s
    while not change_state.service_is_ready():
        assert time.monotonic() < deadline, f"{change_state.srv_name} not offered within {timeout_s} s"
        step()
    request = ChangeState.Request()
    request.transition.id = transition_id
    future, sent = change_state.call_async(request), time.monotonic()
    while time.monotonic() < deadline:
        if future.done():
            assert future.result().success, f"transition {transition_id} refused"
            break
        if time.monotonic() - sent > 2.0:
            answer = call_service(get_state, GetState.Request(), timeout_s=deadline - time.monotonic(), spin=spin)
            if answer.current_state.label == expected_label:
                change_state.remove_pending_request(future)
                return
            sent = time.monotonic()
        step()
    state = call_service(get_state, GetState.Request(), timeout_s=max(deadline - time.monotonic(), 5.0), spin=spin)
    assert state.current_state.label == expected_label, (
        f"after transition {transition_id}: {state.current_state.label}, not {expected_label}"
    )
