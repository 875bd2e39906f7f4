"""Tiny ColBERT checkpoints in the two on-disk layouts, written in code (test helper).

Weights come from a seeded numpy generator, so a checkpoint has the same bytes under any
torch/transformers version. Used by ``tests/test_encoders.py`` and by
``tests/data/make_encoders_reference.py`` (which runs colbert-ai and PyLate on them).
Needs only numpy, torch, transformers and safetensors (and onnx for the fastembed exports).
"""

from __future__ import annotations

import itertools
import json
import string
from pathlib import Path

import numpy as np
import torch
import transformers

WORDS = [
    "the",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "a",
    "is",
    "running",
    "fast",
    "red",
    "blue",
    "protein",
    "cell",
    "cancer",
    "gene",
    "##s",
    "##ing",
]
SPECIALS = ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIALS + list(string.punctuation) + WORDS
PAD, UNUSED0, UNUSED1, UNK, CLS, SEP, MASK = range(7)
PUNCT_IDS = set(range(len(SPECIALS), len(SPECIALS) + len(string.punctuation)))

HIDDEN = 32
STANFORD_DIM = 24
PYLATE_DIMS = (HIDDEN, 40, 16)  # two Dense modules: 32 -> 40 (tanh) -> 16
STANFORD_META = {"query_maxlen": 12, "doc_maxlen": 16, "dim": STANFORD_DIM}
PYLATE_CFG = {"query_length": 10, "document_length": 14}

TEXTS = [
    "The cat sat on the mat.",
    "A dog, running fast!",
    "red",
    "Gene cells: the protein is blue; cancer genes?",
    "the cat the cat the cat the cat the cat the cat the cat the cat the cat",
    "",
]


def bert_config(vocab_size: int, architectures: list[str] | None = None):
    cfg = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    cfg.architectures = architectures
    return cfg


def _seeded_state(module, seed: int, prefix: str = "") -> dict:
    """Every tensor of ``module.state_dict()`` drawn from numpy (version-independent)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in module.state_dict().items():
        if value.dtype in (torch.long, torch.int64, torch.int32):
            state[prefix + key] = value.clone()  # position_ids / token_type_ids buffers
            continue
        if key.endswith("LayerNorm.weight"):
            arr = 1.0 + 0.1 * rng.standard_normal(value.shape)
        else:
            arr = 0.2 * rng.standard_normal(value.shape)
        state[prefix + key] = torch.from_numpy(arr.astype(np.float32))
    return state


def write_tokenizer(path: Path, added: list[str] = ()) -> int:
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True}), encoding="utf-8"
    )
    if not added:
        return len(VOCAB)
    tok = transformers.AutoTokenizer.from_pretrained(str(path))
    tok.add_tokens(list(added))
    tok.save_pretrained(str(path))
    return len(tok)


def make_stanford(path: Path, seed: int = 0, weights: str = "bin") -> Path:
    """A colbert-ai style HF_ColBERT checkpoint (``bert.*`` + ``linear.weight``)."""
    path.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(path)
    cfg = bert_config(vocab_size, ["HF_ColBERT"])
    cfg.save_pretrained(str(path))
    bert = transformers.BertModel(cfg)
    state = _seeded_state(bert, seed, prefix="bert.")
    rng = np.random.default_rng(seed + 1000)
    state["linear.weight"] = torch.from_numpy(
        (0.2 * rng.standard_normal((STANFORD_DIM, HIDDEN))).astype(np.float32)
    )
    if weights == "bin":
        torch.save(state, path / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))
    meta = {
        "query_token_id": "[unused0]",
        "doc_token_id": "[unused1]",
        "query_token": "[Q]",
        "doc_token": "[D]",
        "mask_punctuation": True,
        "attend_to_mask_tokens": False,
        "similarity": "cosine",
        "checkpoint": "tiny",
        **STANFORD_META,
    }
    (path / "artifact.metadata").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def make_pylate(path: Path, seed: int = 0) -> Path:
    """A PyLate (sentence-transformers) ColBERT checkpoint with two Dense modules."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(path, added=["[Q] ", "[D] "])
    cfg = bert_config(vocab_size, ["BertModel"])
    cfg.save_pretrained(str(path))
    bert = transformers.BertModel(cfg)
    save_file(_seeded_state(bert, seed), str(path / "model.safetensors"))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "pylate.models.Dense.Dense"},
    ]
    (path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (path / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 30, "do_lower_case": False}), encoding="utf-8"
    )
    st_cfg = {
        "model_type": "ColBERT",
        "query_prefix": "[Q] ",
        "document_prefix": "[D] ",
        "do_query_expansion": True,
        "attend_to_expansion_tokens": False,
        "skiplist_words": list(string.punctuation),
        "similarity_fn_name": "MaxSim",
        **PYLATE_CFG,
    }
    (path / "config_sentence_transformers.json").write_text(json.dumps(st_cfg), encoding="utf-8")
    rng = np.random.default_rng(seed + 2000)
    activations = ["torch.nn.modules.activation.Tanh", "torch.nn.modules.linear.Identity"]
    for i, (fin, fout) in enumerate(itertools.pairwise(PYLATE_DIMS)):
        sub = path / f"{i + 1}_Dense"
        sub.mkdir(exist_ok=True)
        (sub / "config.json").write_text(
            json.dumps(
                {
                    "in_features": fin,
                    "out_features": fout,
                    "bias": True,
                    "activation_function": activations[i],
                    "use_residual": False,
                }
            ),
            encoding="utf-8",
        )
        save_file(
            {
                "linear.weight": torch.from_numpy(
                    (0.3 * rng.standard_normal((fout, fin))).astype(np.float32)
                ),
                "linear.bias": torch.from_numpy(
                    (0.1 * rng.standard_normal(fout)).astype(np.float32)
                ),
            },
            str(sub / "model.safetensors"),
        )
    return path


def make_fastembed_colbert(path: Path, seed: int = 0) -> Path:
    """The Stanford checkpoint of :func:`make_stanford` exported for fastembed's ColBERT.

    ``path/checkpoint``: the torch checkpoint (``TokenEncoder`` reads it); ``path/onnx``:
    ``model.onnx`` (inputs ``input_ids``, ``attention_mask``; output the projected token
    states ``(batch, tokens, STANFORD_DIM)``, before normalisation, as the checkpoint
    computes them), ``tokenizer.json`` and ``tokenizer_config.json`` (``model_max_length``
    = the checkpoint's ``doc_maxlen``, so documents are cut where ``TokenEncoder`` cuts
    them). Needs torch, transformers and onnx (the TorchScript exporter).
    """
    ckpt = make_stanford(path / "checkpoint", seed=seed)
    state = torch.load(ckpt / "pytorch_model.bin", weights_only=True)
    cfg = transformers.BertConfig.from_pretrained(str(ckpt))
    bert = transformers.BertModel(cfg, add_pooling_layer=False)
    bert.load_state_dict(
        {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}, strict=False
    )
    linear = torch.nn.Linear(cfg.hidden_size, STANFORD_DIM, bias=False)
    linear.weight.data = state["linear.weight"]

    class Colbert(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert, self.linear = bert, linear

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            return self.linear(out.last_hidden_state)

    onnx_dir = path / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    ids = torch.tensor([[CLS, UNUSED1, len(VOCAB) - 1, SEP]])
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Colbert().eval(),
            (ids, torch.ones_like(ids)),
            str(onnx_dir / "model.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_vectors"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_vectors": axes},
            dynamo=False,
            opset_version=17,
        )
    tok = transformers.AutoTokenizer.from_pretrained(
        str(ckpt), model_max_length=STANFORD_META["doc_maxlen"]
    )
    tok.save_pretrained(str(onnx_dir))
    return path


COLPALI_DIM = 16


def make_tiny_colpali(path: Path, seed: int = 0) -> Path:
    """A ColPali-shaped ONNX model for fastembed's multimodal late interaction, in ``path``.

    Not a trained model: ``token_vectors[b, t] = E[input_ids[b, t] % 97] +
    mean_rgb(pixel_values[b]) @ W`` (``COLPALI_DIM`` wide), so text and image outputs
    depend on their inputs (an image on its colours). Inputs as fastembed's ColPali feeds
    them (``input_ids``, ``attention_mask``, ``pixel_values`` ``(b, 3, 448, 448)``), with
    the tiny BERT tokenizer and a 448 x 448 Siglip-style ``preprocessor_config.json``.
    Needs onnx and transformers.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vocab = 97
    inits = [
        numpy_helper.from_array(rng.standard_normal((vocab, COLPALI_DIM)).astype(np.float32), "E"),
        numpy_helper.from_array(rng.standard_normal((3, COLPALI_DIM)).astype(np.float32), "W"),
        numpy_helper.from_array(np.array([vocab], dtype=np.int64), "V"),
        numpy_helper.from_array(np.array([-1, 1, 3], dtype=np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Mod", ["input_ids", "V"], ["ids"]),
        helper.make_node("Gather", ["E", "ids"], ["tok"], axis=0),
        helper.make_node("ReduceMean", ["pixel_values"], ["rgb"], axes=[2, 3], keepdims=1),
        helper.make_node("Reshape", ["rgb", "shape"], ["rgb3"]),
        helper.make_node("MatMul", ["rgb3", "W"], ["img"]),
        helper.make_node("Add", ["tok", "img"], ["token_vectors"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_colpali",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "t"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"]),
            helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["b", 3, 448, 448]),
        ],
        [helper.make_tensor_value_info("token_vectors", TensorProto.FLOAT, ["b", "t", COLPALI_DIM])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path / "model.onnx"))
    tokenizer_src = path / "tokenizer-src"
    tokenizer_src.mkdir(exist_ok=True)
    write_tokenizer(tokenizer_src)
    tok = transformers.AutoTokenizer.from_pretrained(str(tokenizer_src), model_max_length=2048)
    tok.save_pretrained(str(path))
    (path / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "SiglipImageProcessor",
                "do_resize": True,
                "size": {"height": 448, "width": 448},
                "resample": 3,
                "do_rescale": True,
                "rescale_factor": 1 / 255,
                "do_normalize": True,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5],
            }
        ),
        encoding="utf-8",
    )
    return path
