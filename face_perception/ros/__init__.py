"""The rclpy layer: the node, message conversions, parameters and diagnostics."""
