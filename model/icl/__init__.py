"""In-context learning on top of the codec and the LLM: prompts, scorers (direct, channel, the paper's greedy),
the context guard, ``ICLPipeline`` (classify / enhance / synthesize), typed results and the fewshot-v1 protocol.
It joins codec codes to LLM token ids only through ``model.vocab``."""
