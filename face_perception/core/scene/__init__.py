"""Scene analysis (no ROS): people with posture and face, context objects, a sentence, alerts."""
