"""Start the face_perception node.

ros2 launch face_perception face_perception.launch.py image:=/camera/image_raw
ros2 launch face_perception face_perception.launch.py params_file:=/path/to/my.yaml debug_image:=true
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    default_params = PathJoinSubstitution([FindPackageShare("face_perception"), "config", "face_perception.yaml"])
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "image",
                default_value="/camera/image_raw",
                description="Camera image topic (sensor_msgs/Image); use_compressed subscribes <image>/compressed.",
            ),
            DeclareLaunchArgument(
                "faces", default_value="faces", description="Output topic (face_perception/FaceArray)."
            ),
            DeclareLaunchArgument("params_file", default_value=default_params, description="Parameters YAML file."),
            DeclareLaunchArgument(
                "debug_image", default_value="false", description="Publish debug/image with faces drawn."
            ),
            Node(
                package="face_perception",
                executable="face_perception_node",
                name="face_perception",
                output="screen",
                parameters=[
                    LaunchConfiguration("params_file"),
                    {"publish_debug_image": LaunchConfiguration("debug_image")},
                ],
                remappings=[
                    ("image", LaunchConfiguration("image")),
                    ("image/compressed", [LaunchConfiguration("image"), "/compressed"]),
                    ("faces", LaunchConfiguration("faces")),
                ],
            ),
        ]
    )
