"""Loading a checkpoint's parts: weight files, tensors, the transformers backbone and
tokenizer (their load report checked), Dense activations, dtypes, tokenizer facts."""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Iterator
from typing import Any

from ._common import EncoderLoadError, import_torch
from .source import Source

__all__ = [
    "find_weights",
    "leading_special",
    "load_backbone",
    "load_state_dict",
    "load_tensor",
    "load_tokenizer",
    "pad_id",
    "quiet_transformers",
    "resolve_activation",
    "token_id",
    "torch_dtype",
]


def resolve_activation(name: str | None) -> Any:
    torch = import_torch()
    if name in (None, "", "Identity"):
        return torch.nn.Identity()
    module_name, _, cls_name = str(name).rpartition(".")
    if not (module_name == "torch" or module_name.startswith("torch.")):
        raise EncoderLoadError(
            f"Dense activation_function {name!r} is not a torch.nn class; refusing to import it"
        )
    cls = getattr(importlib.import_module(module_name), cls_name, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        raise EncoderLoadError(f"unknown Dense activation_function {name!r}")
    return cls()


def load_state_dict(path: str) -> dict[str, Any]:
    torch = import_torch()
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return dict(load_file(path))
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def find_weights(source: Source, subfolder: str = "") -> list[str]:
    """Weight files of a checkpoint folder: single or sharded safetensors, else .bin."""
    for single, index in (
        ("model.safetensors", "model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    ):
        path = source.file(single, subfolder)
        if path is not None:
            return [path]
        idx = source.json(index, subfolder)
        if isinstance(idx, dict) and "weight_map" in idx:
            shards = sorted(set(idx["weight_map"].values()))
            found = [source.file(s, subfolder) for s in shards]
            if all(found):
                return [p for p in found if p]
    return []


def load_tensor(source: Source, key: str, subfolder: str = "") -> Any:
    files = find_weights(source, subfolder)
    for path in files:
        if path.endswith(".safetensors"):
            from safetensors import safe_open

            with safe_open(path, framework="pt", device="cpu") as fh:
                if key in fh.keys():  # noqa: SIM118 - safe_open is not a dict
                    return fh.get_tensor(key)
        else:
            state = load_state_dict(path)
            if key in state:
                return state[key]
    raise EncoderLoadError(
        f"{source.name!r}: tensor {key!r} not found in {files or 'any weight file'}"
    )


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report; we check missing weights ourselves."""
    from transformers.utils import logging as tlogging

    old = tlogging.get_verbosity()
    bar = tlogging.is_progress_bar_enabled()
    tlogging.set_verbosity_error()
    tlogging.disable_progress_bar()
    try:
        yield
    finally:
        tlogging.set_verbosity(old)
        if bar:
            tlogging.enable_progress_bar()


def load_backbone(source: Source, subfolder: str, trust_remote_code: bool) -> Any:
    from transformers import AutoModel

    name, kwargs = source.hf_kwargs(subfolder)
    with quiet_transformers(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = AutoModel.from_pretrained(
            name, output_loading_info=True, trust_remote_code=trust_remote_code, **kwargs
        )
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("pooler."))
    if missing:
        n_params = len(list(model.state_dict()))
        if len(missing) * 2 > n_params:
            raise EncoderLoadError(
                f"{source.name!r}: {len(missing)} of {n_params} weights of the encoder are "
                f"missing from the checkpoint (e.g. {missing[:3]}); refusing a randomly "
                "initialised model"
            )
        warnings.warn(
            f"{source.name!r}: weights missing from the checkpoint, randomly initialised: "
            f"{missing[:10]}",
            stacklevel=3,
        )
    return model


def load_tokenizer(source: Source, subfolder: str, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    name, kwargs = source.hf_kwargs(subfolder)
    with quiet_transformers():
        return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code, **kwargs)


def token_id(tokenizer: Any, token: str, what: str) -> int:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise EncoderLoadError(f"{what} {token!r} is not in the tokenizer's vocabulary")
    return int(tid)


def pad_id(tokenizer: Any) -> int:
    pid = tokenizer.pad_token_id
    return int(pid) if pid is not None else 0


def torch_dtype(dtype: Any) -> Any:
    torch = import_torch()
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "float16": torch.float16,
        "fp16": torch.float16,
        "half": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if str(dtype) not in table:
        raise ValueError(f"dtype must be one of {sorted(table)} or a torch.dtype, got {dtype!r}")
    return table[str(dtype)]


def leading_special(tokenizer: Any) -> int:
    """1 when the tokenizer puts a special token ([CLS], <s>) in front of every text."""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return int(bool(ids) and ids[0] in set(tokenizer.all_special_ids))
