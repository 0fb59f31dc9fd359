"""The ROS-free core: typed results, configuration, models and the face pipeline."""
