"""Build the codec training set (git-ignored train_set/) from the allowed sources, disjoint from demo and dev sets.

Speech: espeak-ng voices and variants that neither the demo nor the development set uses (English commands,
digits and sentences; sentences in other languages), flite's `kal`, real Czech speech (fillets-ng files not
in the other sets), ktuberling words in languages the other sets do not use. Sounds: minetest effects of
classes the other sets do not use, freedesktop theme sounds and qabcs noises. Noise and reverberation are
added on the fly by the training loop, not here.

    python scripts/build_train_set.py [--out train_set] [--voices 40]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from demo_examples import build
from demo_examples.build import Clip, Voice, convert, fetch_sources, fillets_split, speak, train_voices

FOREIGN = {
    "de": "guten morgen, wie geht es dir heute",
    "fr": "bonjour, comment allez-vous aujourd'hui",
    "es": "buenos días, cómo estás hoy",
    "it": "buongiorno, come stai oggi",
    "pl": "dzień dobry, jak się masz",
    "nl": "goedemorgen, hoe gaat het vandaag",
    "cs": "dobrý den, jak se máte",
    "sv": "god morgon, hur mår du",
}
TEXTS = (
    *build.COMMANDS,
    "up",
    "down",
    "left",
    "right",
    "on",
    "off",
    "cat",
    "dog",
    "bird",
    "house",
    "water",
    "music",
    "hello",
    "thank you very much",
    "what time is it",
    "open the door please",
    "one two three",
    "four five six",
    "seven eight nine",
    "the rain in spain stays mainly in the plain",
    "a large fawn jumped quickly over white zinc boxes",
    "how much wood would a woodchuck chuck",
    "it is a nice day for a walk in the park",
    "my phone number is five five five one two three four",
)
KTUBERLING = ("ca", "da", "lt", "uk", "nl", "sv", "fi", "gl", "pt", "sl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=build.HERE.parent / "train_set")
    parser.add_argument("--voices", type=int, default=40, help="how many TTS voices")
    args = parser.parse_args()
    root, out, clips = fetch_sources(), args.out, []

    def add(rel: str, **fields) -> Path:
        clips.append(Clip(path=rel, **fields))
        return out / rel

    def spoken(voice: Voice, text: str, rel: str, label: str) -> None:
        licence = build.TTS_LICENCE.format(tool=voice.tool)
        dst = add(rel, task="speech", label=label, voice=voice.id, source=f"{voice.tool} '{text}'", licence=licence)
        speak(voice, text, dst)

    for v, voice in enumerate(train_voices(args.voices)):
        for i, text in enumerate(TEXTS):
            spoken(voice, text, f"tts/{v:02d}_{i:02d}.flac", label=text)
        language, sentence = list(FOREIGN.items())[v % len(FOREIGN)]
        foreign = Voice("espeak-ng", f"{language}+{voice.name.split('+')[-1]}")
        spoken(foreign, sentence, f"tts/{v:02d}_{language}.flac", label=language)
    print(f"tts: {len(clips)} clips", flush=True)
    for src in fillets_split(root)[2]:
        convert(
            src,
            add(
                f"fillets/{src.parent.parent.name}_{src.stem}.flac",
                task="speech",
                label="",
                voice="fillets-ng",
                source=f"fillets-ng-data-cs:{src.name}",
                licence="GPL-2+ (Fish Fillets NG)",
            ),
            extra=("trim", "0", "8"),
        )
    ktuberling = root / "usr/share/ktuberling/sounds"
    for code in KTUBERLING:
        for src in sorted(f for f in (ktuberling / code).glob("*") if f.suffix in (".ogg", ".wav")):
            convert(
                src,
                add(
                    f"ktuberling/{code}_{src.stem}.flac",
                    task="speech",
                    label=code,
                    voice=f"ktuberling:{code}",
                    source=f"ktuberling-data:{code}/{src.name}",
                    licence="GPL-2+ (KDE ktuberling)",
                ),
            )
    print(f"speech: {len(clips)} clips", flush=True)
    sounds = [
        *(root / "usr/share/games/minetest").rglob("*.ogg"),
        *(root / "usr/share/sounds/freedesktop").rglob("*.oga"),
        *(root / "usr/share/qabcs/abcs/all/noises").glob("*.ogg"),
    ]
    for src in sorted(sounds):
        if any(f"default_{name}" in src.name for name in build.SOUND_CLASSES):
            continue  # those classes belong to the demo and development sets
        convert(
            src,
            add(
                f"sounds/{src.stem}.flac",
                task="sounds",
                label=src.stem,
                voice="",
                source=src.name,
                licence="see the Debian package's copyright file",
            ),
            trim=False,
            extra=("trim", "0", "6"),
        )
    (out / "manifest.json").write_text(
        json.dumps(
            {"description": "codec training set", "sample_rate": 16000, "clips": [asdict(c) for c in clips]}, indent=1
        )
    )
    print(f"wrote {len(clips)} clips to {out}")


if __name__ == "__main__":
    main()
