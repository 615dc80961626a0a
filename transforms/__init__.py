"""Beam transforms: readers, entity detection, pairing, the two stages and the writers."""
