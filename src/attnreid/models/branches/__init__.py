"""Training-only branches: extra supervision during training, dropped at inference."""
