"""Speech in, text out: a frozen speech encoder → a trained adapter → a frozen LLM's input embeddings (the direct
path, after Kang & Roy 2024), beside a Whisper transcription → the same LLM (the cascade). Uses ``model.lm`` and
the codec's Whisper encoder; nothing here touches the codec's tokens or the in-context learning layer."""
