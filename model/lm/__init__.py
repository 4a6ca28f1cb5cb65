"""The frozen causal LLM: its store (wheels → cached safetensors), scoring with cache reuse, constrained
generation, and the choice of device and dtype. Beside the codec: it never imports ``model.codec``."""
