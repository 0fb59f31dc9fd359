"""Start the face_perception lifecycle node (and, with scene:=true, the scene node beside it).

ros2 launch face_perception face_perception.launch.py image:=/camera/image_raw
ros2 launch face_perception face_perception.launch.py namespace:=robot1 params_file:=/path/to/my.yaml
ros2 launch face_perception face_perception.launch.py debug_image:=true use_sim_time:=true log_level:=debug

Parameter defaults live in the params file only: an argument left empty (debug_image, use_sim_time)
changes nothing, so the file decides. The nodes configure and activate themselves (their
``autostart`` parameter, true in the shipped file); with ``autostart: false`` they wait for
``ros2 lifecycle set``. The Fast DDS profile for large images (config/fastdds_large_images.xml) is
applied to the nodes started here unless FASTRTPS_DEFAULT_PROFILES_FILE or
FASTDDS_DEFAULT_PROFILES_FILE is set already.
"""

from __future__ import annotations

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.substitutions import FindPackageShare

from launch import Action, LaunchDescription

PACKAGE = "face_perception"
PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
BOOLEAN = ["true", "false"]
FROM_PARAMS_FILE = ["", "true", "false"]  # "": leave the value to the params file


def _share(*parts: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare(PACKAGE), *parts])


def _arguments() -> list[DeclareLaunchArgument]:
    return [
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the nodes (e.g. robot1)."),
        DeclareLaunchArgument(
            "image",
            default_value="/camera/image_raw",
            description="Camera image topic (sensor_msgs/Image); use_compressed subscribes <image>/compressed.",
        ),
        DeclareLaunchArgument("faces", default_value="faces", description="Output topic (face_perception/FaceArray)."),
        DeclareLaunchArgument(
            "params_file", default_value=_share("config", "face_perception.yaml"), description="Parameters file."
        ),
        DeclareLaunchArgument(
            "debug_image",
            default_value="",
            choices=FROM_PARAMS_FILE,
            description="Publish debug/image with faces drawn (publish_debug_image); empty: as in params_file.",
        ),
        DeclareLaunchArgument(
            "use_sim_time",
            default_value="",
            choices=FROM_PARAMS_FILE,
            description="Use /clock (a replayed recording); empty: as in params_file (false unless set there).",
        ),
        DeclareLaunchArgument(
            "log_level",
            default_value="info",
            choices=["debug", "info", "warn", "error", "fatal"],
            description="Log level of the nodes.",
        ),
        DeclareLaunchArgument(
            "respawn", default_value="false", choices=BOOLEAN, description="Restart a node that exits (2 s delay)."
        ),
        DeclareLaunchArgument(
            "scene", default_value="false", choices=BOOLEAN, description="Also start the scene node (scene_node)."
        ),
        DeclareLaunchArgument(
            "scene_params_file",
            default_value=_share("config", "scene.yaml"),
            description="Parameters file of the scene node.",
        ),
    ]


def _nodes(context: LaunchContext) -> list[Action]:
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    for name in ("params_file", "scene_params_file") if value("scene") == "true" else ("params_file",):
        if not os.path.isfile(value(name)):
            # launch_ros would start the node with the defaults instead.
            raise ValueError(f"{name}: no such file: {value(name)!r} (not a valid parameters file)")
    overrides: dict[str, bool] = {}
    if value("use_sim_time"):
        overrides["use_sim_time"] = value("use_sim_time") == "true"
    face_overrides = dict(overrides)
    if value("debug_image"):
        face_overrides["publish_debug_image"] = value("debug_image") == "true"
    image = value("image")
    remappings = [("image", image), ("image/compressed", f"{image}/compressed")]
    common = {
        "package": PACKAGE,
        "namespace": value("namespace"),
        "output": "screen",
        "respawn": value("respawn") == "true",
        "respawn_delay": 2.0,
        "ros_arguments": ["--log-level", value("log_level")],
    }
    actions: list[Action] = []
    if not any(os.environ.get(name) for name in PROFILE_VARIABLES):
        profile = _share("config", "fastdds_large_images.xml").perform(context)
        actions += [SetEnvironmentVariable(name, profile) for name in PROFILE_VARIABLES]
    actions.append(
        LifecycleNode(
            executable="face_perception_node",
            name="face_perception",
            parameters=[value("params_file"), *([face_overrides] if face_overrides else [])],
            remappings=[*remappings, ("faces", value("faces"))],
            **common,
        )
    )
    if value("scene") == "true":
        actions.append(
            LifecycleNode(
                executable="scene_node",
                name="scene",
                parameters=[value("scene_params_file"), *([overrides] if overrides else [])],
                remappings=[*remappings, ("faces", value("faces"))],
                **common,
            )
        )
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([*_arguments(), OpaqueFunction(function=_nodes)])
