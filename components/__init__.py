"""Reusable Gradio pieces: token view, support-set editor, spectrogram image, label bars."""
