"""The LLM-vocabulary codec: audio ↔ multi-scale codes that are rows of LLM vocabulary tables.

The lowest layer: it never imports the LLM side (``model.lm``) nor the in-context learning on top
(``model.icl``); a checkpoint carries the code vectors it needs, so it loads without any LLM.
"""
