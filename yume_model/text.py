"""Dual-stream text (Yume1.5 §4.1): the event and the action description are encoded separately by
umT5 and concatenated; the action embeddings of the whole vocabulary are computed once and cached.

Wan2.2 cuts the T5 output to each prompt's real length and zero-pads the sequence to ``text_len``
(512) (``../shared/reference/backbone.md`` §1.2); the dual stream concatenates the two real-length
parts first and pads (or truncates the event) to ``text_len``.

Shapes: one encoded text is (n_tokens, text_dim); a context batch is (B, text_len, text_dim).
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from yumebench.actions import ALL_ACTIONS, Action, action_text

CACHE_VERSION = 1


class TextEncoder:
    """A tokenizer plus transformers' ``UMT5EncoderModel``; ``unload()`` frees the encoder's memory.

    ``calls`` counts encoder forward passes (the cache test checks that a cached vocabulary costs none).
    """

    def __init__(self, tokenizer, model, max_length: int = 512, device: str = "cpu") -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.max_length = max_length
        self.device = device
        self.calls = 0
        self.identity = encoder_identity(model, tokenizer, max_length)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, max_length: int = 512, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> TextEncoder:
        """``path`` is a folder (or hub id) with ``text_encoder/`` and ``tokenizer/``, as in
        ``Wan-AI/Wan2.2-TI2V-5B-Diffusers``, or a plain UMT5 folder holding both."""
        from transformers import AutoTokenizer, UMT5EncoderModel

        root = Path(path)
        model_dir = root / "text_encoder" if (root / "text_encoder").is_dir() else root
        token_dir = root / "tokenizer" if (root / "tokenizer").is_dir() else model_dir
        if root.exists():
            model = UMT5EncoderModel.from_pretrained(model_dir, torch_dtype=dtype)
            tokenizer = AutoTokenizer.from_pretrained(token_dir)
        else:  # a hub id: only the local cache is used (no downloads at run time)
            model = UMT5EncoderModel.from_pretrained(
                str(path), subfolder="text_encoder", torch_dtype=dtype, local_files_only=True
            )
            tokenizer = AutoTokenizer.from_pretrained(str(path), subfolder="tokenizer", local_files_only=True)
        return cls(tokenizer, model.eval().to(device), max_length, device)

    @torch.no_grad()
    def encode(self, texts: Iterable[str]) -> list[torch.Tensor]:
        """Each text -> (real length, dim) float32 on CPU."""
        if self.model is None:
            raise RuntimeError("the text encoder was unloaded; encode every text before unload()")
        texts = list(texts)
        batch = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        ids, mask = batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
        self.calls += 1
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        lengths = mask.sum(dim=1).tolist()
        return [hidden[i, : int(n)].float().cpu() for i, n in enumerate(lengths)]

    def unload(self) -> None:
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def encoder_identity(model, tokenizer, max_length: int) -> str:
    """What the cached embeddings depend on: the encoder's source and config, the tokenizer, the length.

    Weights are named by their source path (hub id or folder), not hashed: hashing 11 GB of umT5 on
    every run would cost more than encoding the 81 actions.
    """
    config = model.config.to_dict()
    config.pop("transformers_version", None)
    config.pop("_name_or_path", None)
    payload = {
        "source": str(getattr(model, "name_or_path", "") or ""),
        "config": config,
        "tokenizer": str(getattr(tokenizer, "name_or_path", "")),
        "vocab": len(tokenizer),
        "max_length": max_length,
        "dtype": str(next(model.parameters()).dtype),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _key(action: Action) -> str:
    return f"{action.keys}|{action.mouse}"


class ActionEmbeddingCache:
    """Embeddings of every action description in one wording, stored in one safetensors file.

    The file name and its metadata carry the encoder identity and the wording, so a different encoder
    or wording never reads stale embeddings.
    """

    def __init__(self, embeddings: dict[str, torch.Tensor], identity: str, wording: str) -> None:
        self.embeddings = embeddings
        self.identity = identity
        self.wording = wording

    def __getitem__(self, action: Action) -> torch.Tensor:
        return self.embeddings[_key(action)]

    @staticmethod
    def file_name(identity: str, wording: str) -> str:
        return f"action_embeddings-{wording}-{identity}.safetensors"

    @classmethod
    def build(cls, encoder: TextEncoder, wording: str = "yume", batch_size: int = 27) -> ActionEmbeddingCache:
        actions = list(ALL_ACTIONS)
        texts = [action_text(a, wording) for a in actions]
        embeddings: dict[str, torch.Tensor] = {}
        for start in range(0, len(texts), batch_size):
            encoded = encoder.encode(texts[start : start + batch_size])
            for action, emb in zip(actions[start : start + batch_size], encoded, strict=True):
                embeddings[_key(action)] = emb.contiguous()
        return cls(embeddings, encoder.identity, wording)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / self.file_name(self.identity, self.wording)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"version": str(CACHE_VERSION), "identity": self.identity, "wording": self.wording}
        tmp = path.with_suffix(".tmp")
        save_file(self.embeddings, str(tmp), metadata=meta)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ActionEmbeddingCache:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        if meta.get("version") != str(CACHE_VERSION):
            raise ValueError(f"{path}: not an action-embedding cache of version {CACHE_VERSION}")
        embeddings = load_file(str(path))
        missing = [_key(a) for a in ALL_ACTIONS if _key(a) not in embeddings]
        if missing:
            raise ValueError(f"{path}: {len(missing)} actions missing (e.g. {missing[0]})")
        return cls(embeddings, meta["identity"], meta["wording"])

    @classmethod
    def load_or_build(cls, encoder: TextEncoder, folder: str | Path, wording: str = "yume") -> ActionEmbeddingCache:
        """Read the cache for this encoder and wording from ``folder``, or build and save it."""
        path = Path(folder) / cls.file_name(encoder.identity, wording)
        if path.exists():
            return cls.load(path)
        cache = cls.build(encoder, wording)
        cache.save(folder)
        return cache


def dual_stream_context(event: torch.Tensor, action: torch.Tensor, text_len: int) -> torch.Tensor:
    """[event ; action] -> (text_len, dim), zero-padded; a long event is cut so the action always fits."""
    if action.shape[0] >= text_len:
        raise ValueError(f"the action description alone has {action.shape[0]} tokens; text_len is {text_len}")
    event = event[: text_len - action.shape[0]]
    joined = torch.cat([event, action], dim=0)
    return torch.nn.functional.pad(joined, (0, 0, 0, text_len - joined.shape[0]))


def tiny_text_encoder(text_dim: int = 16, max_length: int = 256, seed: int = 0) -> TextEncoder:
    """A random two-layer UMT5 with a byte-level tokenizer, built offline (tests and the tiny demo model)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{ch: i + 3 for i, ch in enumerate(sorted(alphabet))}}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=max_length
    )
    torch.manual_seed(seed)
    config = UMT5Config(
        vocab_size=len(vocab),
        d_model=text_dim,
        d_kv=8,
        d_ff=32,
        num_layers=2,
        num_heads=2,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        eos_token_id=1,
    )
    return TextEncoder(tokenizer, UMT5EncoderModel(config).eval(), max_length)
