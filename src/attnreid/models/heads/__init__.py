"""Head parts: what turns a pooled feature or a map into identity logits."""
