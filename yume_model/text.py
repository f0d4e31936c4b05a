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
import html
import json
import re
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from yumebench.actions import ALL_ACTIONS, Action, action_text

CACHE_VERSION = 1
# Where Wan2.2 and the Yume-5B-720P release keep umT5 (Wan2.2 ``configs/wan_ti2v_5B.py``): Wan's own
# encoder weights and the tokenizer folder, beside the DiT.
NATIVE_T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
NATIVE_TOKENIZER_DIR = "google/umt5-xxl"


def clean_prompt(text: str) -> str:
    """Wan's prompt cleaning before tokenisation (``HuggingfaceTokenizer(clean="whitespace")`` in Wan2.2
    ``wan/modules/tokenizers.py``; diffusers' Wan pipelines do the same): fix mojibake, unescape HTML
    twice, collapse whitespace."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return re.sub(r"\s+", " ", text).strip()


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
        ``Wan-AI/Wan2.2-TI2V-5B-Diffusers``; a plain UMT5 folder holding both; or a release folder as Wan2.2
        and Yume-5B-720P ship it, with ``models_t5_umt5-xxl-enc-bf16.pth`` and ``google/umt5-xxl/``."""
        from transformers import AutoTokenizer, UMT5EncoderModel

        root = Path(path)
        if (root / NATIVE_T5_FILE).is_file() and not (root / "text_encoder").is_dir():
            from yume_model.checkpoint import read_torch_weights

            token_dir = root / NATIVE_TOKENIZER_DIR
            if not token_dir.is_dir():
                raise FileNotFoundError(
                    f"{root}: {NATIVE_T5_FILE} is here but its tokenizer {NATIVE_TOKENIZER_DIR}/ is not"
                )
            model = umt5_from_native(read_torch_weights(root / NATIVE_T5_FILE), dtype)
            model.config._name_or_path = str(root / NATIVE_T5_FILE)
            return cls(AutoTokenizer.from_pretrained(token_dir), model.to(device), max_length, device)
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
        texts = [clean_prompt(t) for t in texts]
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


_T5_RENAMES = [  # Wan's native umT5 encoder (wan/modules/t5.py) -> transformers' UMT5EncoderModel
    (r"^token_embedding\.", "shared."),
    (r"^norm\.", "encoder.final_layer_norm."),
    (r"^blocks\.(\d+)\.norm1\.", r"encoder.block.\1.layer.0.layer_norm."),
    (r"^blocks\.(\d+)\.attn\.([qkvo])\.", r"encoder.block.\1.layer.0.SelfAttention.\2."),
    (r"^blocks\.(\d+)\.pos_embedding\.embedding\.", r"encoder.block.\1.layer.0.SelfAttention.relative_attention_bias."),
    (r"^blocks\.(\d+)\.norm2\.", r"encoder.block.\1.layer.1.layer_norm."),
    (r"^blocks\.(\d+)\.ffn\.gate\.0\.", r"encoder.block.\1.layer.1.DenseReluDense.wi_0."),
    (r"^blocks\.(\d+)\.ffn\.fc1\.", r"encoder.block.\1.layer.1.DenseReluDense.wi_1."),
    (r"^blocks\.(\d+)\.ffn\.fc2\.", r"encoder.block.\1.layer.1.DenseReluDense.wo."),
]  # fmt: skip


def native_t5_to_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Wan's umT5 encoder key names -> ``UMT5EncoderModel`` key names (same tensors; the embedding is
    shared with ``encoder.embed_tokens``)."""
    from yume_model.checkpoint import rename_keys

    out = rename_keys(state, _T5_RENAMES)
    out["encoder.embed_tokens.weight"] = out["shared.weight"]
    return out


def umt5_from_native(state: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32):
    """A ``UMT5EncoderModel`` equal to Wan's ``T5Encoder`` holding ``state`` (tested against the official
    module). The sizes come from the shapes; the rest is Wan's umT5-XXL setting: one relative position
    table per layer, 32 buckets up to distance 128 (``T5RelativeEmbedding(max_dist=128)``), gated tanh-GELU,
    RMS norms at eps 1e-6."""
    from transformers import UMT5Config, UMT5EncoderModel

    if "token_embedding.weight" not in state or "blocks.0.pos_embedding.embedding.weight" not in state:
        raise ValueError("not a Wan umT5 encoder state dict (no token_embedding / per-layer pos_embedding)")
    vocab, dim = state["token_embedding.weight"].shape
    buckets, heads = state["blocks.0.pos_embedding.embedding.weight"].shape
    layers = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    config = UMT5Config(
        vocab_size=vocab,
        d_model=dim,
        d_kv=state["blocks.0.attn.q.weight"].shape[0] // heads,
        d_ff=state["blocks.0.ffn.fc1.weight"].shape[0],
        num_layers=layers,
        num_heads=heads,
        relative_attention_num_buckets=buckets,
        relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu",
        layer_norm_epsilon=1e-6,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
    )
    with torch.device("meta"):
        model = UMT5EncoderModel(config)
    converted = native_t5_to_transformers(state)
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(converted)), sorted(set(converted) - set(own))
    if missing or unexpected:
        raise ValueError(f"umT5 keys do not match Wan's: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.load_state_dict({k: v.to(dtype) for k, v in converted.items()}, assign=True)
    model.encoder.embed_tokens = model.shared
    return model.eval()


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
