"""Base networks: the ResNet stages every network starts from, and the networks a mechanism plugs into."""
