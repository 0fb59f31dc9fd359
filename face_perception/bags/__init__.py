"""rosbag2 input and output without ROS: reading camera bags, writing results, with the rosbags library."""
