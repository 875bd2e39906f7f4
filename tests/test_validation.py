"""validation.py: multivector and vector checks with errors naming point, vector, problem."""

from __future__ import annotations

import numpy as np
import pytest

from qdrant_tokenpool.validation import (
    InvalidMultivectorError,
    as_multivector,
    as_vector,
    to_numpy,
)


def test_as_multivector_returns_float32_matrix() -> None:
    out = as_multivector([[1, 2], [3, 4]])
    assert out.dtype == np.float32 and out.shape == (2, 2)
    x = np.ones((3, 4), dtype=np.float32)
    assert as_multivector(x) is x  # no copy for float32 input
    assert as_multivector(x.astype(np.float64)).dtype == np.float32


def test_error_names_point_and_vector() -> None:
    with pytest.raises(InvalidMultivectorError) as info:
        as_multivector([[1.0, 0.0], [0.0, 0.0]], point_id=42, vector_name="colbert")
    err = info.value
    assert str(err) == "point 42, vector 'colbert': row 1 is a zero vector (it has no direction)"
    assert err.problem == "row 1 is a zero vector (it has no direction)"
    assert (err.point_id, err.vector_name) == (42, "colbert")
    assert isinstance(err, ValueError)


def test_default_vector_is_named_and_at_fills_in() -> None:
    err = InvalidMultivectorError("empty multivector (no vectors)", vector_name="")
    assert str(err) == "default vector '': empty multivector (no vectors)"
    moved = err.at(point_id="a1")
    assert str(moved) == "point 'a1', default vector '': empty multivector (no vectors)"
    assert moved.vector_name == "" and moved.problem == err.problem
    moved = InvalidMultivectorError("x").at(point_id=3, vector_name="v")
    assert str(moved) == "point 3, vector 'v': x"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "empty multivector"),
        (np.zeros((0, 3)), "empty multivector"),
        ([[1.0], [2.0, 3.0]], "ragged multivector: row 1 has 2 values, row 0 has 1"),
        ([1.0, 2.0], "got a single vector of 2 values"),
        (np.ones((1, 2, 2)), r"shape \(1, 2, 2\)"),
        (np.ones((2, 0)), r"d = 0"),
        ([[1.0, float("nan")]], "non-finite value nan at row 0, column 1"),
        ([[1.0, 2.0], [float("-inf"), 1.0]], "non-finite value -inf at row 1, column 0"),
        ([[0.0, 0.0]], "row 0 is a zero vector"),
        (np.array([[1 + 1j, 2]]), "real numbers"),
        ("abc", "cannot read str"),
    ],
)
def test_bad_multivectors(bad: object, message: str) -> None:
    with pytest.raises(InvalidMultivectorError, match=message):
        as_multivector(bad)


def test_wrong_dimension_and_allow_zero() -> None:
    with pytest.raises(InvalidMultivectorError, match="have 3 values, the collection expects 4"):
        as_multivector(np.ones((2, 3)), dim=4)
    assert as_multivector(np.zeros((2, 3)), allow_zero=True).shape == (2, 3)
    with pytest.raises(InvalidMultivectorError, match="non-finite"):
        as_multivector([[np.nan, 0.0]], allow_zero=True)


def test_extreme_but_valid_values_pass() -> None:
    # squares overflow / underflow float32: the one-pass check must not refuse them
    big = np.full((2, 3), 3e38, dtype=np.float32)
    tiny = np.full((2, 3), 1e-30, dtype=np.float32)
    assert as_multivector(big) is big
    assert as_multivector(tiny) is tiny
    mixed = np.array([[1e-30, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    with pytest.raises(InvalidMultivectorError, match="row 1 is a zero vector"):
        as_multivector(mixed)


def test_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3) + 1
    np.testing.assert_array_equal(as_multivector(t), t.numpy())
    assert as_multivector(t.to(torch.bfloat16)).dtype == np.float32
    assert as_multivector(t.requires_grad_()).shape == (2, 3)
    assert to_numpy(torch.ones(3, dtype=torch.float16)).dtype == np.float32


def test_as_vector() -> None:
    out = as_vector([1, 2, 3])
    assert out.dtype == np.float32 and out.shape == (3,)
    assert as_vector([0.0, 0.0]).shape == (2,)  # zero allowed for dense vectors
    with pytest.raises(InvalidMultivectorError, match=r"expected a dense vector \(d,\)"):
        as_vector([[1.0]])
    with pytest.raises(InvalidMultivectorError, match="empty vector"):
        as_vector([])
    with pytest.raises(InvalidMultivectorError, match="point 5, vector 'dense': wrong dimension"):
        as_vector([1.0, 2.0], dim=3, point_id=5, vector_name="dense")
    with pytest.raises(InvalidMultivectorError, match="non-finite value inf at position 1"):
        as_vector([1.0, float("inf")])
