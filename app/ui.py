"""Layout and event wiring. ``build_demo`` never loads weights and never launches."""

from __future__ import annotations

import gradio as gr

from app import examples
from app.handlers import LEVEL_CHOICES, PATH_CHOICES, SCORING_CHOICES, Handlers, user_errors
from app.settings import AppSettings
from components.support_editor import audio_files, support_editor
from components.token_view import colour_map
from model.icl.pipeline import ICLPipeline

# Every event that runs the codec or the LLM shares one concurrency group: the queue's limit is for all of them
# together (not per event), so a CPU runs one model call at a time and memory stays bounded.
MODELS = "models"
# Events that only fill widgets are not part of the API: clients call classify, enhance, synthesize, explore,
# reconstruct.
PLUMBING = "private"
INTRO = """# UniAudio 1.5 — a frozen LLM learns audio tasks from a few examples
An audio codec whose codebooks are the **frozen token embeddings of an LLM** turns each clip into the LLM's own
words. Shown a few labelled demonstrations in that "foreign language", the frozen LLM classifies, denoises or
speaks — with no fine-tuning. Drag in demonstrations, add a query, and look at the prompt the LLM reads."""


# Seconds of ZeroGPU time asked per call: enough for the slowest case of each task on a GPU, and short, since
# ZeroGPU queues long requests behind short ones. Generation writes every level of every token step by step.
GPU_SECONDS = {"classify": 30, "explore": 20, "enhance": 120, "synthesize": 90, "ask": 60}


HOW_TO = {
    "classify": "**How to use:** drag in a few clips per label (or record them below the table), check the "
    "labels, add a query clip, press *Classify*. Or click an example.",
    "enhance": "**How to use:** give noisy clips and their clean versions (paired by file name), then the noisy "
    "clip to clean up, and press *Enhance*.",
    "synthesize": "**How to use:** give clips of single words or digits with what each says, type a text made "
    "of those words, press *Synthesize*.",
    "explore": "**How to use:** upload or record any clip to see the codec's tokens per level and hear what "
    "each level alone reconstructs.",
    "ask": "**How to use:** upload or record a spoken question or passage, write what the LLM should do with it "
    "(`<speech>` marks where the clip goes), press *Ask*: the answer appears as it is written. *Direct* hands "
    "the LLM the speech itself through a small trained adapter (what it heard is shown); *cascade* hands "
    "it Whisper's transcript.",
}


def on_gpu(fn, seconds: int = 60):
    """On a Hugging Face ZeroGPU Space (the ``spaces`` package is importable) a GPU is attached for up to
    ``seconds`` while ``fn`` runs; anywhere else ``fn`` is returned unchanged."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=seconds)(fn)


def _tokens(label: str) -> gr.HighlightedText:
    return gr.HighlightedText(
        label=label, color_map=colour_map(), show_legend=True, combine_adjacent=False, show_inline_category=False
    )


def _actions(verb: str) -> tuple[gr.Button, gr.Markdown]:
    """The primary button and a status line (timing) of a tab."""
    return gr.Button(verb, variant="primary"), gr.Markdown()


def notice(pipeline: ICLPipeline) -> str:
    """Where the models run, as popular Spaces say it: users on a CPU know to expect seconds, not instants."""
    device = pipeline.lm.device
    where = "a GPU" if device.type == "cuda" else "a CPU (no GPU here): answers take seconds, generation a minute"
    rate = pipeline.codec.config.tokens_per_second
    return f"Running on {where} · LLM: **{pipeline.lm.name}** ({pipeline.lm.precision}) · codec: {rate:.0f} tokens/s"


def _relabel_on_user_edits(h: Handlers, files: gr.File, rows: gr.Dataframe, api: str) -> None:
    """Refresh the label table when the user adds or removes files. Not on every change: an example (or a
    recording) sets files and table together, and relabelling from the uploaded names would then overwrite
    the example's labels with its files' names (Gradio keeps only the file name, not its labelled folder)."""
    for event in (files.upload, files.delete, files.clear):
        event(h.demo_rows, [files, rows], rows, api_name=api, api_visibility=PLUMBING, show_progress="hidden")


def _classify_tab(h: Handlers) -> None:
    gr.Markdown(HOW_TO["classify"])
    with gr.Row():
        with gr.Column(scale=3):
            files, rows = support_editor(
                "Demonstrations: drag in many clips (label = folder or file name)",
                "label",
                "Labels (edit freely)",
                user_errors,
                "classify",
            )
        with gr.Column(scale=2):
            query = gr.Audio(
                label="Query clip", sources=["upload", "microphone"], type="filepath", elem_id="classify-query"
            )
            # Levels 0-1 by default: channel scoring (the default below) is measured best with them (bench/fewshot.py).
            levels = gr.Radio(LEVEL_CHOICES, value="0,1", label="Codec levels shown to the LLM")
            scoring = gr.Radio(SCORING_CHOICES, value=SCORING_CHOICES[0][1], label="How the LLM decides")
            cut = gr.Slider(
                0, 30, value=0, step=0.5, label="Cut every clip to (seconds; 0 = whole clips; for long support sets)"
            )
            run = gr.Button("Classify", variant="primary")
            answer = gr.Label(label="Label probabilities", num_top_classes=10)
            timing = gr.Markdown(elem_id="classify-timing")
    rows_, names = examples.classify_rows()
    gr.Examples(rows_, [files, rows, query], example_labels=names, label="Examples: one click fills the inputs")
    prompt = _tokens("The prompt the LLM reads (colour: role × codec level)")
    with gr.Row():
        attention = gr.Dataframe(
            headers=["demonstration", "label", "relied on %"],
            label="What the LLM relied on (direct: its attention at the answer; channel: how much the query made "
            "each demonstration predictable)",
            interactive=False,
            scale=3,
        )
        with gr.Column(scale=2):
            clip = gr.Dropdown(label="Hear a clip as the codec reconstructs it", choices=[])
            replay = gr.Button("Reconstruct")
            heard = gr.Audio(label="Reconstruction", interactive=False)
    _relabel_on_user_edits(h, files, rows, "demo_labels")
    run.click(
        on_gpu(h.classify, GPU_SECONDS["classify"]),
        [files, rows, query, levels, cut, scoring],
        [answer, prompt, attention, clip, timing],
        api_name="classify",
        concurrency_id=MODELS,
    )
    replay.click(h.reconstruct, [clip, files, query], heard, api_name="reconstruct", concurrency_id=MODELS)


# What each generated clip is beside: the codec alone is what copying the input's tokens gives.
CODEC_ALONE = {
    "enhance": "**Enhanced**: tokens the LLM wrote. **Codec alone**: the noisy clip's own tokens, decoded — "
    "what the codec gives with no LLM; the LLM helps only where it sounds better than this.",
    "synthesize": "**Generated**: tokens the LLM wrote for the text. **Codec alone**: the demonstrations of "
    "those words, decoded one after another — what a perfect copy of their tokens would give.",
}


def _enhance_tab(h: Handlers) -> None:
    gr.Markdown(HOW_TO["enhance"])
    with gr.Row():
        noisy = audio_files("Noisy demonstration clips", "enhance-noisy")
        clean = audio_files("Their clean versions (paired by file name)", "enhance-clean")
    with gr.Row():
        query = gr.Audio(
            label="Noisy clip to enhance", sources=["upload", "microphone"], type="filepath", elem_id="enhance-query"
        )
        with gr.Column():
            run, timing = _actions("Enhance")
        with gr.Column():
            output = gr.Audio(label="Enhanced", interactive=False, elem_id="enhance-output")
            alone = gr.Audio(label="Codec alone", interactive=False, elem_id="enhance-codec-alone")
            gr.Markdown(CODEC_ALONE["enhance"])
    with gr.Row():
        before = gr.Image(label="Before (log-mel)", interactive=False)
        after = gr.Image(label="After (log-mel)", interactive=False)
    prompt = _tokens("Prompt and generated tokens")
    run.click(
        on_gpu(h.enhance, GPU_SECONDS["enhance"]),
        [noisy, clean, query],
        [output, alone, before, after, prompt, timing],
        api_name="enhance",
        concurrency_id=MODELS,
    )
    example = list(examples.enhance_example())
    gr.Examples([example], [noisy, clean, query], example_labels=["Four noisy/clean pairs and a fifth noisy clip"])


def _synthesize_tab(h: Handlers) -> None:
    gr.Markdown(HOW_TO["synthesize"])
    with gr.Row():
        with gr.Column():
            files, rows = support_editor(
                "Clips of single words or digits", "text", "What each clip says", user_errors, "synthesize"
            )
        with gr.Column():
            text = gr.Textbox(label="Text to speak (demonstrated words or digits)", value="3 1 2")
            run, timing = _actions("Synthesize")
            output = gr.Audio(label="Generated audio", interactive=False, elem_id="synthesize-output")
            alone = gr.Audio(label="Codec alone", interactive=False, elem_id="synthesize-codec-alone")
            gr.Markdown(CODEC_ALONE["synthesize"])
    prompt = _tokens("Prompt and generated tokens")
    _relabel_on_user_edits(h, files, rows, "synthesis_texts")
    run.click(
        on_gpu(h.synthesize, GPU_SECONDS["synthesize"]),
        [files, rows, text],
        [output, alone, prompt, timing],
        api_name="synthesize",
        concurrency_id=MODELS,
    )
    gr.Examples([examples.synthesize_row()], [files, rows, text], example_labels=["Ten digits, one voice"])


def _ask_tab(h: Handlers) -> None:
    gr.Markdown(HOW_TO["ask"])
    with gr.Row():
        clip = gr.Audio(
            label="Spoken question or passage (up to 90 s)",
            sources=["upload", "microphone"],
            type="filepath",
            elem_id="ask-clip",
        )
        with gr.Column():
            instruction = gr.Textbox(
                label="Instruction (<speech> is where the clip goes)",
                value="Answer the question in one word. <speech>",
                elem_id="ask-instruction",
            )
            path = gr.Radio(PATH_CHOICES, value=PATH_CHOICES[0][1], label="How the LLM hears the clip")
            run, status = _actions("Ask")
    answer = gr.Textbox(label="Answer", interactive=False, elem_id="ask-answer")
    transcript = gr.Textbox(
        label="What was heard (cascade: Whisper's transcript; direct: what the adapter heard)",
        interactive=False,
        elem_id="ask-transcript",
    )
    run.click(
        on_gpu(h.ask, GPU_SECONDS["ask"]),
        [clip, instruction, path],
        [answer, transcript, status],
        api_name="ask",
        concurrency_id=MODELS,
    )
    gr.Examples(
        list(examples.ask_examples()),
        [clip, instruction, path],
        example_labels=["A spoken digit, direct", "The same, through Whisper"],
    )


def _explorer_tab(h: Handlers) -> None:
    gr.Markdown(HOW_TO["explore"])
    with gr.Row():
        source = gr.Audio(label="Any clip", sources=["upload", "microphone"], type="filepath", elem_id="explore-clip")
        with gr.Column():
            run, stats = _actions("Tokenize")
    tokens = _tokens("Tokens per codec level (L0: words; the finer levels: sub-words; rates above)")
    with gr.Row():
        before = gr.Image(label="Input (log-mel)", interactive=False)
        after = gr.Image(label="Reconstruction, all levels (log-mel)", interactive=False)
    with gr.Row():
        level0 = gr.Audio(label="From level 0 only", interactive=False)
        level01 = gr.Audio(label="From levels 0–1", interactive=False)
        full = gr.Audio(label="From all levels", interactive=False)
    run.click(
        on_gpu(h.explore, GPU_SECONDS["explore"]),
        source,
        [tokens, before, after, level0, level01, full, stats],
        api_name="explore",
        concurrency_id=MODELS,
    )
    outputs = [tokens, before, after, level0, level01, full, stats]
    # Cheap (one encode, three decodes): its outputs are cached the first time someone clicks it.
    gr.Examples([[examples.explorer_example()]], source, outputs, h.explore, cache_examples=True, cache_mode="lazy")


def build_demo(pipeline: ICLPipeline, settings: AppSettings = AppSettings()) -> gr.Blocks:
    """The whole app, wired to ``pipeline``, with the queue configured from ``settings``."""
    handlers = Handlers(pipeline)
    # delete_cache: uploaded and generated files older than an hour are removed every hour
    with gr.Blocks(title="UniAudio 1.5 few-shot audio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(notice(pipeline))
        with gr.Tabs():
            with gr.Tab("Classify"):
                _classify_tab(handlers)
            with gr.Tab("Enhance"):
                _enhance_tab(handlers)
            with gr.Tab("Synthesize"):
                _synthesize_tab(handlers)
            with gr.Tab("Codec explorer"):
                _explorer_tab(handlers)
            with gr.Tab("Ask"):
                _ask_tab(handlers)
    demo.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.max_queue)
    return demo
