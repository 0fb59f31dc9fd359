"""pip install of the ROS-free core library and the face-perception CLI.

The ROS node and messages are built by colcon from CMakeLists.txt and package.xml.
"""

from glob import glob

from setuptools import find_packages, setup

setup(
    name="face_perception",
    version="0.1.0",
    description="Face detection with emotion, gender, age and eyeglasses heads, for ROS 2 robots",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["face_perception", "face_perception.*"]),
    package_data={"face_perception": ["data/samples/*"]},
    data_files=[
        ("share/face_perception/models", glob("models/*.onnx") + glob("models/*.json") + glob("models/*.md")),
        ("share/face_perception/config", glob("config/*.yaml")),
        ("share/face_perception/msg", glob("msg/*.msg")),
        ("share/face_perception/srv", glob("srv/*.srv")),
    ],
    install_requires=[
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "onnxruntime>=1.17",
        "pyyaml>=6",
        "scipy>=1.10",
    ],
    extras_require={
        "export": ["h5py>=3.8", "onnx>=1.15"],
        "bags": ["rosbags>=0.10", "tqdm>=4.60"],
        "train": ["torch==2.13.0", "h5py>=3.8", "onnx>=1.15", "matplotlib>=3.7"],
        "eval": ["matplotlib>=3.7", "pycocoevalcap>=1.2"],
        "captioner": ["tokenizers>=0.15"],
        "docs": ["sphinx>=7.3", "myst-parser>=3"],
        "dev": [
            "h5py>=3.8", "onnx>=1.15", "rosbags>=0.10", "tqdm>=4.60", "mcap>=1.1", "mcap-ros2-support>=0.5",
            "matplotlib>=3.7", "scipy>=1.10", "pytest>=8", "ruff>=0.6", "scikit-image>=0.22", "torch==2.13.0",
            "tokenizers>=0.15", "sphinx>=7.3", "myst-parser>=3", "pycocoevalcap>=1.2",
        ],
    },
    entry_points={"console_scripts": ["face-perception = face_perception.cli.main:main"]},
)
