"""validation.py: multivector and vector checks with errors naming point, vector, problem."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qdrant_tokenpool.pooling import kernels
from qdrant_tokenpool.pooling.validation import (
    InvalidMultivectorError,
    InvalidVectorError,
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
    with pytest.raises(InvalidVectorError, match=r"expected a dense vector \(d,\)"):
        as_vector([[1.0]])
    with pytest.raises(InvalidVectorError, match="empty vector"):
        as_vector([])
    with pytest.raises(InvalidVectorError, match="point 5, vector 'dense': wrong dimension"):
        as_vector([1.0, 2.0], dim=3, point_id=5, vector_name="dense")
    with pytest.raises(InvalidVectorError, match="non-finite value inf at position 1"):
        as_vector([1.0, float("inf")])
    with pytest.raises(InvalidVectorError, match="non-finite value nan at position 0"):
        as_vector(np.array([np.nan, 1.0]))
    # finite in the input, infinite in float32 (what Qdrant stores): named as such
    with pytest.raises(InvalidVectorError, match=r"value 1e\+39 at position 1 is outside the float32"):
        as_vector([1.0, 1e39])
    with pytest.raises(InvalidVectorError, match=r"value 1e\+40 at position 0 is outside the float32"):
        as_vector(np.array([1e40, 1.0]))
    with pytest.raises(InvalidVectorError, match="cannot read list"):
        as_vector(["a", "b"])


def test_vector_errors_are_one_family() -> None:
    """A multivector's error is an InvalidVectorError (and a ValueError), as a dense one's."""
    assert issubclass(InvalidMultivectorError, InvalidVectorError)
    assert issubclass(InvalidVectorError, ValueError)
    err = InvalidMultivectorError("bad").at(point_id=3, vector_name="v")
    assert type(err) is InvalidMultivectorError and str(err) == "point 3, vector 'v': bad"


# -- nested lists: the compiled reader (pooling kernels) and the numpy fallback agree ------
NESTED_INPUTS = [
    [[1.0, 2.5], [3.0, -4.0]],
    [[1, 2], [3, 4]],  # Python ints
    ((1.0, 2), [3, 4.5]),  # tuples and lists mixed
    [[0.1, 1e-30], [3e38, -3.4e38]],  # extreme but float32
    [[1e-45, 1.0]],  # rounds to the smallest float32 subnormal
    [[2**53, 1.0], [-(2**53), 2.0]],
    [[2**60 + 1, 1.0]],  # int beyond 2**53: numpy's rounding
    [[True, 1.0]],  # bool: numpy reads it
    [[np.float64(0.5), 1.0]],  # numpy scalars: numpy reads them
    [np.ones(2), [1.0, 2.0]],  # a row that is an array
    [[1e-50, 1.0]],  # one value underflows, the row does not
]

BAD_NESTED = [
    ([], "empty multivector"),
    ([[]], r"d = 0"),
    ([[1.0], [2.0, 3.0]], "ragged multivector: row 1 has 2 values, row 0 has 1"),
    ([[1.0, 2.0], 3.0], "cannot read list"),
    ([[1.0, "x"]], "cannot read list"),
    ([[1.0, None]], "non-finite value nan at row 0, column 1"),  # numpy reads None as NaN
    ([[10**400, 1.0]], "cannot read list"),
    ([[1.0, float("nan")]], "non-finite value nan at row 0, column 1"),
    ([[1.0, 2.0], [float("-inf"), 1.0]], "non-finite value -inf at row 1, column 0"),
    ([[0.0, 0.0]], "row 0 is a zero vector"),
    ([[1.0, 2.0], [3.0, 1e39]], r"value 1e\+39 at row 1, column 1 is outside the float32 range"),
    ([[1.0, 2.0], [-1e39, 0.0]], r"value -1e\+39 at row 1, column 0 is outside the float32 range"),
    ([[1.0, 2.0], [1e-50, 0.0]], r"row 1 underflows to a zero vector in float32 \(its largest magnitude is 1e-50"),
]


def _read(vectors: object, compiled: bool) -> np.ndarray:
    if compiled:
        return as_multivector(vectors, allow_zero=True)
    with kernels.fallback_only():
        return as_multivector(vectors, allow_zero=True)


def _error(vectors: object, compiled: bool) -> str:
    with pytest.raises(InvalidMultivectorError) as info:
        if compiled:
            as_multivector(vectors, point_id=5, vector_name="colbert")
        else:
            with kernels.fallback_only():
                as_multivector(vectors, point_id=5, vector_name="colbert")
    return str(info.value)


needs_kernels = pytest.mark.skipif(kernels.compiled is None, reason="compiled kernels not built")


@needs_kernels
def test_compiled_nested_reader_takes_lists_of_float_rows_only() -> None:
    rows = [[1.0, 2.0], [3, 4.5]]
    out = kernels.nested_float32(rows)
    assert out is not None and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.asarray(rows, dtype=np.float32))
    for other in ([], [[]], [1.0, 2.0], [[1.0], [1.0, 2.0]], [[True]], [[np.float32(1)]],
                  [np.ones(2)], np.ones((2, 2)), [[1e39]], [[1e-50]], [[2**60]], "ab"):
        assert kernels.nested_float32(other) is None, other
    with kernels.fallback_only():
        assert kernels.nested_float32(rows) is None


@pytest.mark.parametrize("vectors", NESTED_INPUTS)
def test_nested_lists_read_alike_compiled_and_fallback(vectors: object) -> None:
    expected = np.asarray(
        [[float(v) for v in row] for row in vectors], dtype=np.float32  # type: ignore[attr-defined]
    )
    for compiled in (True, False):
        out = _read(vectors, compiled)
        assert out.dtype == np.float32 and out.shape == expected.shape
        assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize(("bad", "message"), BAD_NESTED)
def test_nested_list_errors_alike_compiled_and_fallback(bad: object, message: str) -> None:
    compiled, fallback = _error(bad, True), _error(bad, False)
    assert compiled == fallback
    assert compiled.startswith("point 5, vector 'colbert': ")
    assert re.search(message, compiled), compiled


def test_float64_arrays_and_their_lists_name_float32_range_alike() -> None:
    big = np.ones((3, 4))
    big[2, 3] = 1e39
    tiny = np.ones((3, 4))
    tiny[1] = 1e-50
    for x in (big, tiny):
        array_error = _error(x, True)
        assert _error(x.tolist(), True) == _error(x.tolist(), False) == array_error


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda d: st.lists(
            st.lists(
                st.one_of(
                    st.floats(allow_nan=False, width=64),
                    st.integers(-(2**60), 2**60),
                ),
                min_size=d,
                max_size=d,
            ),
            min_size=1,
            max_size=8,
        )
    )
)
def test_property_nested_reader_equals_numpy(rows: list[list[float]]) -> None:
    for compiled in (True, False):
        try:
            out: np.ndarray | str = _read(rows, compiled)
        except InvalidMultivectorError as exc:
            out = str(exc)
        if compiled:
            first = out
        elif isinstance(out, str):
            assert out == first
        else:
            assert isinstance(first, np.ndarray) and first.tobytes() == out.tobytes()
