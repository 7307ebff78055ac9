"""Training, checkpointing and feature extraction, generic over models (see attnreid.models)."""
