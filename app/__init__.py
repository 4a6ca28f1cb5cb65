"""The Gradio app: ``settings`` (flags and limits), ``examples`` (one-click tasks from demo_examples/),
``handlers`` (widget values ↔ library calls; the only place raising gr.Error) and ``ui`` (layout + wiring)."""
