"""Stage 1, the guide: a small multimodal relation classifier (text encoder with entity markers,
optional image features), trained with MRDA augmentation and the flexible threshold loss."""
