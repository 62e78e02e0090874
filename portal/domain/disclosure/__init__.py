"""What the public sees: disclosed cases, masking, rich text, statistics."""
