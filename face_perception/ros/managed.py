"""The lifecycle plumbing both nodes share: state label, start (autostart) and the executable's main loop."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from face_perception.core.errors import ConfigError, FacePerceptionError
from face_perception.ros.params import check_ros_arguments


class StartError(FacePerceptionError):
    """The node could not be taken to active at start."""


class ManagedNode(LifecycleNode):
    """A lifecycle node that remembers why a transition failed and can take itself to active."""

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(name, **kwargs)
        self.last_transition_error = ""

    @property
    def state(self) -> str:
        """The lifecycle state's label: unconfigured, inactive, active, finalized (or a transition)."""
        return self._state_machine.current_state[1]

    @property
    def autostart(self) -> bool:
        """Whether the executable configures and activates the node itself."""
        return bool(self.get_parameter("autostart").value)

    def start(self) -> None:
        """Configure and activate (what ``autostart`` does).

        Raises:
            StartError: a transition failed; the message says why.
        """
        for name, trigger in (("configure", self.trigger_configure), ("activate", self.trigger_activate)):
            if trigger() != TransitionCallbackReturn.SUCCESS:
                raise StartError(self.last_transition_error or f"{name} failed (state {self.state})")

    def unknown_parameters(self) -> list[str]:
        """Names given to this node (a params file, ``-p``) that it does not declare: ignored, so likely typos."""
        return sorted(name for name in self._parameter_overrides if not self.has_parameter(name))

    def warn_unknown_parameters(self) -> None:
        """Log the names this node ignores, once, after every parameter was declared."""
        if names := self.unknown_parameters():
            self.get_logger().warning(f"ignored (not parameters of this node): {', '.join(names)}")

    def with_lifecycle(self, status: DiagnosticStatus) -> DiagnosticStatus:
        """``status`` with the lifecycle state added; outside *active* the node does not process on
        purpose, so no stale-camera warning: OK, or ERROR with the reason when a transition failed."""
        state = self.state
        status.values.insert(0, KeyValue(key="lifecycle_state", value=state))
        if state != "active":
            failed = bool(self.last_transition_error)
            status.level = DiagnosticStatus.ERROR if failed else DiagnosticStatus.OK
            status.message = self.last_transition_error if failed else f"{state}: not processing images"
        return status

    def _refuse(self, transition: str, error: Exception) -> TransitionCallbackReturn:
        self.last_transition_error = f"{transition} failed: {error}"
        self.get_logger().error(self.last_transition_error)
        return TransitionCallbackReturn.FAILURE


def _fatal(logger_name: str, text: str) -> int:
    rclpy.logging.get_logger(logger_name).fatal(f"cannot start: {text}")
    return 1


def run(make_node: Callable[[], ManagedNode], logger_name: str, args: list[str] | None = None) -> int:
    """Run the node until shutdown. Returns the exit code: 0 after a requested shutdown (SIGINT,
    SIGTERM, the lifecycle ``shutdown`` transition), 1 with a clear message when it cannot start."""
    argv = sys.argv if args is None else args
    try:
        check_ros_arguments(argv)
        rclpy.init(args=argv)
    except ConfigError as error:
        return _fatal(logger_name, str(error))
    except RuntimeError as error:  # rclpy's RCLError: arguments rcl could not parse
        return _fatal(logger_name, f"invalid ROS arguments: {str(error).strip()}")
    node = None
    executor = SingleThreadedExecutor()
    try:
        node = make_node()
        if node.autostart:
            node.start()
        executor.add_node(node)
        while node.state != "finalized":  # `ros2 lifecycle set ... shutdown` ends the process
            executor.spin_once(timeout_sec=0.5)
    except (FacePerceptionError, ParameterException) as error:
        return _fatal(logger_name, str(error))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # A signal ended the context while spin was waiting: a requested shutdown, not a failure.
    finally:
        # The executor first, while the context is valid: left to the garbage collector after
        # rclpy's shutdown, it prints a traceback from destroying its signal guard condition.
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
