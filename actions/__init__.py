"""Custom actions for the TMS assistant (run by `rasa run actions`)."""
