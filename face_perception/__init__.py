"""Face perception for home-assistant robots.

``face_perception.core`` is the ROS-free library (detector, classifier heads,
alignment, pipeline); ``face_perception.ros`` is the rclpy layer; ``face_perception.cli``
holds the command-line tools. The generated ROS messages (``face_perception.msg``)
are installed next to these sources by colcon; ``extend_path`` lets a source checkout
and the colcon install space serve one package.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
