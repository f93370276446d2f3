"""bot/nlu/minilm.py: the batched NumPy forward pass gives the model's sentence embeddings.

The reference below is a plain transcription of BERT (one sentence at a time, no padding,
the exact GELU with the error function), read from the same safetensors weights; the
encoder under test batches sentences of different lengths, pads them, multiplies in 2-D and
uses the tanh form of GELU."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from scipy.special import erf

from bot.nlu.minilm import MiniLMEncoder, _gelu, model_zip_path

SENTENCES = [
    "hi",
    "how many wks do i gotta keep going in for tms",
    "I'm in my seventies and I wonder what unpleasant effects this magnetic treatment tends to cause, "
    "and whether my heart tablets matter at all.",
    "can i drive home after a session?",
    "",
    "¿Qué es la EMT? 🙂 <b>markup</b>",
]


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder.load()


@pytest.fixture(scope="module")
def reference_weights():
    from safetensors.numpy import load

    with zipfile.ZipFile(model_zip_path()) as archive:
        return load(archive.read("model.safetensors")), json.loads(archive.read("config.json"))


def reference_embedding(ids, weights, config):
    w = {name: value.astype(np.float64) for name, value in weights.items()}
    heads, eps = config["num_attention_heads"], config["layer_norm_eps"]

    def norm(x, prefix):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[prefix + ".weight"] + w[prefix + ".bias"]

    def dense(x, prefix):
        return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]

    n = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    size = x.shape[1] // heads
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q, k, v = (dense(x, p + f"attention.self.{name}").reshape(n, heads, size).transpose(1, 0, 2)
                   for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
        x = norm(x + dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        hidden = dense(x, p + "intermediate.dense")
        hidden = 0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))
        x = norm(x + dense(hidden, p + "output.dense"), p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_batched_embeddings_match_the_plain_model_sentence_by_sentence(encoder, reference_weights):
    weights, config = reference_weights
    ours = encoder.encode(SENTENCES, batch_size=4)  # mixed lengths: padding inside batches
    for ids, vector in zip(encoder.token_ids(SENTENCES), ours, strict=True):
        expected = reference_embedding(ids, weights, config)
        assert float(vector @ expected) > 0.9999
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_a_sentence_gets_the_same_vector_alone_or_in_any_batch(encoder):
    alone = encoder.encode([SENTENCES[2]])[0]
    batched = encoder.encode(SENTENCES, batch_size=64)[2]
    assert np.allclose(alone, batched, atol=1e-5)


def test_meaning_is_closer_than_wording(encoder):
    weeks, course, drive = encoder.encode(
        ["how many wks do i gotta keep going", "how long does the whole course of treatment last",
         "can i drive home afterwards"])
    assert weeks @ course > weeks @ drive + 0.1


def test_no_text_gives_an_empty_matrix(encoder):
    assert encoder.encode([]).shape == (0, 384)


def test_gelu_is_close_to_the_exact_one_and_saturates_without_overflow_warnings():
    x = np.array([-100.0, -20.0, -3.0, -1.0, 0.0, 0.5, 2.0, 20.0, 100.0], dtype=np.float32)
    exact = 0.5 * x * (1 + erf(x / np.sqrt(2)))
    # Warnings are errors in this suite: an overflow in exp would fail here.
    assert np.allclose(_gelu(x), exact, atol=5e-4)
    assert _gelu(x).dtype == np.float32
