"""Tiny HF models built at run time into a folder: random weights, a locally built tokenizer.

Nothing is downloaded; every builder is deterministic (fixed seed). Usable without smconsole:

    python container/tools/tiny_models.py summarization /tmp/tiny-sum
    # or, from Python:
    import importlib.util
    spec = importlib.util.spec_from_file_location("tiny_models", "container/tools/tiny_models.py")
    tiny_models = importlib.util.module_from_spec(spec); spec.loader.exec_module(tiny_models)
    tiny_models.build_summarizer(Path("/tmp/tiny-sum"))

Models (each folder is what the container's MODEL_DIR, or a single subfolder of it, holds):

- ``build_summarizer``: a BART summarizer (task detected from its config). Its summaries are
  random words from the tiny vocabulary; `min_length` forces that many generation steps, so a
  request with large `min_length`/`max_length` (e.g. 900/1000) is a reliably *long* inference.
- ``build_failing_summarizer``: the same, but its tokenizer's `model_max_length` (1024) exceeds
  the model's `max_position_embeddings` (64). The server truncates inputs at the tokenizer's
  limit, so any text longer than 62 tokens reaches the model and fails **inside its forward
  pass** (IndexError in the position embedding): the container answers 500 with a JSON error.
  Trigger it with ``FAILING_TEXT`` (or any text of more than 62 words, e.g. ``"word " * 100``);
  short texts (up to ~60 words, with `max_length` ≤ 60) summarize normally.
- ``build_text_classifier``: a BERT sequence classifier with labels NEGATIVE/POSITIVE.
- ``build_image_classifier``: a ViT image classifier on 32×32 images with labels cat/dog.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

WORDS = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "and",
    "is",
    "was",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "that",
    "this",
    "it",
    "be",
    "are",
    "were",
    "has",
    "had",
    "model",
    "endpoint",
    "request",
    "summary",
    "text",
    "image",
    "queue",
    "batch",
    "server",
    "async",
    "inference",
    "token",
    "word",
    "cloud",
    "data",
    "result",
    "output",
    "input",
    "error",
    "ping",
    "container",
    "sagemaker",
    "instance",
    "scale",
    "zero",
    "long",
    "short",
    "fast",
    "slow",
    "good",
    "bad",
    "cat",
    "dog",
    "tree",
    "river",
    "city",
    "night",
    "day",
    "sun",
    "rain",
    "wind",
    "sea",
    "ship",
]

# Longer than the failing model's 64 positions (BOS and EOS take two) once tokenized.
FAILING_TEXT = " ".join(WORDS[i % len(WORDS)] for i in range(100))

SEED = 1234


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _word_level(special: list[str], unk: str):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate([*special, *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer, vocab


def _bart_tokenizer(model_max_length: int):
    from tokenizers import decoders, processors
    from transformers import PreTrainedTokenizerFast

    tokenizer, vocab = _word_level(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<unk>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=model_max_length,
    ), len(vocab)


def build_summarizer(
    dest: Path, *, max_position_embeddings: int = 1024, model_max_length: int | None = None
) -> Path:
    """A tiny BART summarizer in `dest`; returns `dest`."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig

    _quiet()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer, vocab_size = _bart_tokenizer(model_max_length or max_position_embeddings)
    config = BartConfig(
        vocab_size=vocab_size,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        is_encoder_decoder=True,
    )
    torch.manual_seed(SEED)
    model = BartForConditionalGeneration(config).eval()
    # Random weights would often pick <unk>/<mask>/<pad>, which decode to nothing: bar them
    # so every summary is readable words.
    with torch.no_grad():
        model.final_logits_bias[:, [0, 1, 3, 4]] = -1e4
    model.generation_config = GenerationConfig(
        decoder_start_token_id=2,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        forced_bos_token_id=0,
        num_beams=1,
        do_sample=False,
    )
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def build_failing_summarizer(dest: Path) -> Path:
    """A tiny summarizer whose forward pass fails for texts of more than 62 tokens."""
    return build_summarizer(dest, max_position_embeddings=64, model_max_length=1024)


def build_text_classifier(dest: Path) -> Path:
    """A tiny BERT sentiment-style classifier in `dest`."""
    import torch
    from tokenizers import decoders, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    _quiet()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer, vocab = _word_level(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[UNK]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    torch.manual_seed(SEED)
    BertForSequenceClassification(config).eval().save_pretrained(dest)
    fast.save_pretrained(dest)
    return dest


def build_image_classifier(dest: Path) -> Path:
    """A tiny ViT classifier on 32×32 RGB images in `dest`."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    try:  # the PIL backend needs no torchvision
        from transformers import ViTImageProcessorPil as ViTImageProcessor
    except ImportError:
        from transformers import ViTImageProcessor

    _quiet()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        id2label={0: "cat", 1: "dog"},
        label2id={"cat": 0, "dog": 1},
    )
    torch.manual_seed(SEED)
    ViTForImageClassification(config).eval().save_pretrained(dest)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(dest)
    return dest


BUILDERS = {
    "summarization": build_summarizer,
    "failing-summarization": build_failing_summarizer,
    "text-classification": build_text_classifier,
    "image-classification": build_image_classifier,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(BUILDERS))
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    print(BUILDERS[args.kind](args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
