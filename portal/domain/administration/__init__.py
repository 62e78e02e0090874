"""The jurisdiction's data: places, vocabulary, settings, retention."""
