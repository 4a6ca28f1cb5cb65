"""UniAudio 1.5 reimplementation: an LLM-vocabulary audio codec and a frozen LLM that learns audio tasks in context.

Submodules are imported on demand (``from model.audio import load_audio``); importing the package does no work.
"""
