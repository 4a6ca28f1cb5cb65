"""Build the demo examples (committed) or the development set (git-ignored) from allowed sources only.

Sources (see ../shared/DATA.md): Debian's espeak-ng and flite (text-to-speech), ktuberling-data (spoken words,
one voice per language), minetest-data (sound effects), fillets-ng-data-cs (real Czech speech) and synthetic
noise from sox. Data packages are fetched with `apt-get download` and unpacked with `dpkg -x` (no install).

    apt-get install sox libsox-fmt-all espeak-ng flite
    python demo_examples/build.py                 # the small committed set, into demo_examples/
    python demo_examples/build.py --dev           # the development set, into dev_set/ (voices/files disjoint)

Every clip is 16 kHz mono 16-bit FLAC with silence trimmed; manifest.json records task, label, voice,
source and licence per clip. The two sets share no voice (speech) and no source file (sounds).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SOURCES = HERE / ".sources"
PACKAGES = ("ktuberling-data", "minetest-data", "fillets-ng-data-cs", "sound-theme-freedesktop", "qabcs-data")
TTS_LICENCE = "generated with {tool} (GPL-3.0 tool); the generated audio carries no licence restriction"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = (*DIGITS, "yes", "no", "stop", "go")
SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "please call me back when you get home",
    "she sells sea shells by the sea shore",
    "turn left at the second traffic light",
    "the weather is lovely this morning",
    "we will meet again next week",
)
STYLES = {
    "slow": ["-s", "95"],
    "fast": ["-s", "260"],
    "high pitch": ["-p", "95"],
    "low pitch": ["-p", "5"],
    "whisper": ["+whisper"],
}
SOUND_CLASSES = (
    "break_glass",
    "cool_lava",
    "grass_footstep",
    "gravel_footstep",
    "snow_footstep",
    "sand_footstep",
    "metal_footstep",
    "water_footstep",
    "place_node",
    "tool_breaks",
)
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "ru": "Russian"}
NOISES = ("white", "pink", "brown", "hum", "babble")


@dataclass(frozen=True)
class Voice:
    tool: str  # "flite" or "espeak-ng"
    name: str  # flite voice, or espeak voice+variant

    @property
    def id(self) -> str:
        return f"{self.tool}:{self.name}"


# Speech voices: the committed set and the development set never share one.
DEMO_VOICES = (
    Voice("flite", "slt"),
    Voice("flite", "rms"),
    Voice("espeak-ng", "en-us+f3"),
    Voice("espeak-ng", "en-gb+m3"),
)
DEV_VOICES = (
    Voice("flite", "awb"),
    Voice("flite", "kal16"),
    *(
        Voice("espeak-ng", f"{lang}+{variant}")
        for lang in ("en-us", "en-gb-x-rp", "en-gb-scotland")
        for variant in ("f1", "f2", "f4", "m1", "m2", "m4", "m5", "m7")
    ),
)

# Training voices (codec, speech adapter): espeak-ng accents x variants that neither set above uses.
ENGLISH = ("en-us", "en-gb", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
VARIANTS = (
    "f3",
    "f5",
    "m3",
    "m6",
    "m8",
    "Alex",
    "Andy",
    "Annie",
    "belinda",
    "benjamin",
    "caleb",
    "david",
    "ed",
    "edward",
    "Gene",
    "iven",
    "john",
    "linda",
    "max",
    "Michael",
    "paul",
    "robert",
    "steph",
    "travis",
    "victor",
    "zac",
    "anika",
    "aunty",
    "boris",
    "quincy",
)


def train_voices(count: int) -> list[Voice]:
    used = {v.id for v in DEMO_VOICES + DEV_VOICES}
    voices = [Voice("espeak-ng", f"{lang}+{variant}") for lang in ENGLISH for variant in VARIANTS]
    voices = [v for v in voices if v.id not in used]
    random.Random(0).shuffle(voices)
    return [Voice("flite", "kal"), *voices[: count - 1]]


@dataclass
class Clip:
    path: str
    task: str
    label: str
    voice: str
    source: str
    licence: str
    text: str = ""
    pair: str = ""
    role: str = ""
    snr_db: float | None = None


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def fetch_sources() -> Path:
    """Unpack the Debian data packages once into demo_examples/.sources (git-ignored)."""
    root = SOURCES / "root"
    if (SOURCES / "done").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)  # dpkg -x creates only the last folder of the path
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True)
        for deb in Path(tmp).glob("*.deb"):
            run("dpkg", "-x", str(deb), str(root))
    (SOURCES / "done").write_text("ok\n")
    return root


def convert(src: Path, dst: Path, trim: bool = True, extra: tuple[str, ...] = ()) -> None:
    """sox → 16 kHz mono 16-bit; trim leading/trailing silence at a low threshold (0.3 % cuts a soft /s/)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    effects = ["silence", "1", "0.02", "0.05%", "reverse", "silence", "1", "0.02", "0.05%", "reverse"] if trim else []
    run("sox", "-R", str(src), "-r", "16000", "-c", "1", "-b", "16", str(dst), *extra, *effects, "norm", "-1")


def speak(voice: Voice, text: str, dst: Path, extra: list[str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if voice.tool == "flite":
            run("flite", "-voice", voice.name, "-t", text, "-o", str(raw))
        else:
            name = voice.name + (extra[0] if extra and extra[0].startswith("+") else "")
            flags = [e for e in (extra or []) if not e.startswith("+")]
            run("espeak-ng", "-v", name, *flags, "-w", str(raw), text)
        convert(raw, dst)


class Builder:
    def __init__(self, out: Path, dev: bool, seed: int = 0):
        self.out, self.dev, self.clips = out, dev, []
        self.rng = random.Random(seed)
        self.voices = DEV_VOICES if dev else DEMO_VOICES

    def add(self, rel: str, **fields) -> Path:
        self.clips.append(Clip(path=rel, **fields))
        return self.out / rel

    def commands(self) -> None:
        for voice in self.voices:
            for word in COMMANDS:
                dst = self.add(
                    f"commands/{word}/{_slug(voice.id)}.flac",
                    task="commands",
                    label=word,
                    voice=voice.id,
                    source=f"{voice.tool} '{word}'",
                    licence=TTS_LICENCE.format(tool=voice.tool),
                )
                speak(voice, word, dst)

    def tts(self) -> None:
        voices = self.voices[:2] if not self.dev else self.voices[:6]
        texts = [*list(DIGITS), "3 1 2", "7 4", "hello world", "good morning"]
        for voice in voices:
            for i, text in enumerate(texts):
                dst = self.add(
                    f"tts/{_slug(voice.id)}/{i:02d}.flac",
                    task="tts",
                    label=text,
                    text=text,
                    voice=voice.id,
                    source=f"{voice.tool} '{text}'",
                    licence=TTS_LICENCE.format(tool=voice.tool),
                )
                speak(voice, text, dst)

    def style(self) -> None:
        espeak = [v for v in self.voices if v.tool == "espeak-ng"][: 2 if not self.dev else 12]
        sentences = SENTENCES[:2] if not self.dev else SENTENCES[2:]
        for voice in espeak:
            for style, flags in STYLES.items():
                for j, sentence in enumerate(sentences):
                    dst = self.add(
                        f"style/{_slug(style)}/{_slug(voice.id)}_{j}.flac",
                        task="style",
                        label=style,
                        text=sentence,
                        voice=voice.id,
                        source=f"espeak-ng {' '.join(flags)} '{sentence}'",
                        licence=TTS_LICENCE.format(tool="espeak-ng"),
                    )
                    speak(voice, sentence, dst, flags)

    def sounds(self, root: Path) -> None:
        folder = root / "usr/share/games/minetest/games/minetest_game/mods/default/sounds"
        for name in SOUND_CLASSES:
            files = sorted(folder.glob(f"default_{name}*.ogg"))
            chosen = files[:2] if not self.dev else files[2:]
            for src in chosen:
                for speed in (1.0,) if not self.dev else (0.9, 1.0, 1.1):
                    rel = f"sounds/{name}/{src.stem.replace('default_', '')}_{speed:g}.flac"
                    self.add(
                        rel,
                        task="sounds",
                        label=name.replace("_", " "),
                        voice="",
                        source=f"minetest-data:{src.name} speed {speed:g}",
                        licence="CC-BY-SA-3.0 (Minetest)",
                    )
                    # no silence trimming: many effects are clicks of 0.2 s that the trimmer would eat
                    convert(src, self.out / rel, trim=False, extra=("speed", f"{speed}"))

    def language(self, root: Path) -> None:
        folder = root / "usr/share/ktuberling/sounds"
        for code, name in LANGUAGES.items():
            files = sorted(f for f in folder.glob(f"{code}/*") if f.suffix in (".ogg", ".wav"))
            self.rng.shuffle(files)
            chosen = files[:3] if not self.dev else files[3:43]
            for src in chosen:
                rel = f"language/{code}/{src.stem}.flac"
                self.add(
                    rel,
                    task="language",
                    label=name,
                    voice=f"ktuberling:{code}",
                    source=f"ktuberling-data:sounds/{code}/{src.name}",
                    licence="GPL-2+ (KDE ktuberling)",
                )
                convert(src, self.out / rel)

    def enhance(self, root: Path) -> None:
        demo, dev, _ = fillets_split(root)
        speech = dev if self.dev else demo
        with tempfile.TemporaryDirectory() as tmp:
            for i, src in enumerate(speech):
                clean_tmp = Path(tmp) / f"clean{i}.wav"
                convert(src, clean_tmp, extra=("trim", "0", "4"))
                clean, _ = sf.read(clean_tmp, dtype="float32")
                noise_kind = NOISES[i % len(NOISES)]
                snr = [-5.0, 0.0, 5.0, 10.0, 15.0][(i // len(NOISES)) % 5] if self.dev else [0.0, 5.0, 10.0][i % 3]
                noisy = clean + _noise(noise_kind, len(clean), self.rng, clean, snr, Path(tmp))
                pair = f"pair{i:02d}"
                scale = 0.9 / max(1e-6, float(np.abs(noisy).max()), float(np.abs(clean).max()))  # one gain for both
                (self.out / "enhance").mkdir(parents=True, exist_ok=True)
                for role, audio in (("clean", clean), ("noisy", noisy)):
                    rel = f"enhance/{pair}_{role}.flac"
                    self.add(
                        rel,
                        task="enhance",
                        label=noise_kind,
                        pair=pair,
                        role=role,
                        snr_db=snr,
                        voice="fillets-ng",
                        source=f"fillets-ng-data-cs:{src.relative_to(root)} + {noise_kind} noise at {snr:g} dB",
                        licence="GPL-2+ (Fish Fillets NG)",
                    )
                    sf.write(self.out / rel, audio * scale, 16000, subtype="PCM_16")

    def write_manifest(self) -> None:
        manifest = {
            "description": "UniAudio 1.5 demo clips" if not self.dev else "development set",
            "sample_rate": 16000,
            "clips": [asdict(c) for c in self.clips],
        }
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def fillets_split(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """The real-speech files for the demo set, the development set and training: fixed and disjoint."""
    speech = sorted((root / "usr/share/games/fillets-ng/sound").rglob("cs/*.ogg"))
    random.Random(1234).shuffle(speech)
    return speech[:6], speech[6:66], speech[66:]


def _noise(kind: str, n: int, rng: random.Random, clean: np.ndarray, snr_db: float, tmp: Path) -> np.ndarray:
    """Noise of ``kind`` scaled so that clean/noise power is ``snr_db``."""
    seed = rng.randrange(2**31)
    if kind == "hum":
        t = np.arange(n) / 16000
        noise = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in range(1, 6))
    elif kind == "babble":
        talkers = [Voice("espeak-ng", v) for v in ("en-us+m6", "en-gb+f5", "en-us+m8")]
        noise = np.zeros(n, dtype=np.float32)
        for j, voice in enumerate(talkers):
            speak(voice, SENTENCES[(seed + j) % len(SENTENCES)], tmp / "babble.wav")
            talk, _ = sf.read(tmp / "babble.wav", dtype="float32")
            noise += np.resize(talk, n)
    else:
        # -R: sox's fixed random seed, so the set rebuilds identically
        run(
            "sox",
            "-R",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(tmp / "noise.wav"),
            "synth",
            f"{n / 16000}",
            f"{kind}noise",
            "vol",
            "0.5",
        )
        noise = np.resize(sf.read(tmp / "noise.wav", dtype="float32")[0], n)
    noise = np.asarray(noise, dtype=np.float32)
    gain = np.sqrt(np.mean(clean**2) / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
    return noise * gain


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", action="store_true", help="build the larger development set instead")
    parser.add_argument("--out", type=Path, help="output folder (default: demo_examples/ or dev_set/)")
    args = parser.parse_args()
    out = args.out or (HERE.parent / "dev_set" if args.dev else HERE)
    for tool in ("sox", "espeak-ng", "flite", "apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install sox libsox-fmt-all espeak-ng flite")
    for task in ("commands", "sounds", "language", "style", "enhance", "tts"):
        shutil.rmtree(out / task, ignore_errors=True)
    root = fetch_sources()
    builder = Builder(out, args.dev)
    for step in (builder.commands, builder.tts, builder.style):
        step()
        print(f"{step.__name__}: {len(builder.clips)} clips so far", flush=True)
    for step in (builder.sounds, builder.language, builder.enhance):
        step(root)
        print(f"{step.__name__}: {len(builder.clips)} clips so far", flush=True)
    builder.write_manifest()
    print(f"wrote {len(builder.clips)} clips and {out / 'manifest.json'}")


if __name__ == "__main__":
    main()
