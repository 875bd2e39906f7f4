"""Vector checks with clear errors (which point, which vector, what is wrong), used by the
numerics, the write path and the engines. Pure numpy."""

from __future__ import annotations

import numbers
from typing import Any, TypeVar

import numpy as np

from .kernels import nested_float32, rows_ok

__all__ = [
    "InvalidMultivectorError",
    "InvalidVectorError",
    "as_multivector",
    "as_vector",
    "check_int",
    "is_array",
    "is_tensor",
    "to_numpy",
    "vector_label",
]


_E = TypeVar("_E", bound="InvalidVectorError")


class InvalidVectorError(ValueError):
    """A vector of a request is malformed or does not fit its collection (wrong dimension,
    NaN/inf, an unknown vector name...).

    Attributes:
        problem: what is wrong (``"wrong dimension: vector has 15 values, ..."``).
        point_id, vector_name: the point and vector (``""``: the unnamed one), when known.
    """

    def __init__(self, problem: str, *, point_id: Any = None, vector_name: str | None = None):
        self.problem = problem
        self.point_id = point_id
        self.vector_name = vector_name
        where = []
        if point_id is not None:
            where.append(f"point {point_id!r}")
        if vector_name is not None:
            where.append(vector_label(vector_name))
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)

    def at(self: _E, *, point_id: Any = None, vector_name: str | None = None) -> _E:  # noqa: PYI019 - typing.Self needs 3.11
        """A copy of this error (same class) that names the point and vector."""
        return type(self)(
            self.problem,
            point_id=self.point_id if point_id is None else point_id,
            vector_name=self.vector_name if vector_name is None else vector_name,
        )


class InvalidMultivectorError(InvalidVectorError):
    """A multivector is malformed: ragged, empty, wrong ``d``, NaN/inf, a zero row..."""


def vector_label(name: str | None) -> str:
    """A vector as every message names it: ``vector 'colbert'``, or ``default vector ''``."""
    return f"vector {name!r}" if name else "default vector ''"


def is_tensor(x: Any) -> bool:
    """A torch tensor (anything with ``detach`` and ``cpu``), without importing torch."""
    return hasattr(x, "detach") and hasattr(x, "cpu")


def is_array(x: Any) -> bool:
    """A numpy array or a torch tensor (:func:`is_tensor`)."""
    return isinstance(x, np.ndarray) or is_tensor(x)


def check_int(
    name: str, value: Any, minimum: int = 1, error: type[Exception] = ValueError
) -> int:
    """``value`` as an ``int`` if it is an integer (Python or numpy, not ``bool``) of at
    least ``minimum``; else ``error(f"{name} must be an integer >= {minimum}, got ...")``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def to_numpy(vectors: Any) -> np.ndarray:
    """numpy view of a numpy array, torch tensor (any device) or nested list; no checks."""
    if isinstance(vectors, np.ndarray):
        return vectors
    if is_tensor(vectors):
        t = vectors.detach().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        return t.numpy()
    return _from_nested(vectors)


def _from_nested(vectors: Any) -> np.ndarray:
    """A nested list (or anything numpy reads) as a float32 array: the compiled reader when
    it takes it, else numpy (the same arrays), naming what is wrong."""
    arr = nested_float32(vectors)
    if arr is not None:
        return arr
    try:
        with np.errstate(over="ignore", under="ignore"):  # the checks name such values
            return np.asarray(vectors, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        pass
    if isinstance(vectors, (list, tuple)):
        rows = list(vectors)
        if rows and all(isinstance(r, (list, tuple, np.ndarray)) for r in rows):
            lengths = [len(r) for r in rows]
            for i, length in enumerate(lengths):
                if length != lengths[0]:
                    raise InvalidMultivectorError(
                        f"ragged multivector: row {i} has {length} values, row 0 has {lengths[0]}"
                    )
    raise InvalidMultivectorError(
        f"cannot read {type(vectors).__name__} as a matrix of floats"
    )


def _nested_source(vectors: Any, arr: np.ndarray) -> np.ndarray | None:
    """A nested list's values in float64 (``None`` if numpy cannot read them so), to name
    a value that its float32 copy ``arr`` lost."""
    try:
        source = np.asarray(vectors, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    return source if source.shape == arr.shape else None


def _check_values(arr: np.ndarray, *, allow_zero: bool) -> None:
    if arr.ndim == 2 and arr.dtype == np.float32:
        # One pass: a NaN/inf makes its row's sum of squares non-finite, a zero row's is
        # zero (numpy's float32 sum may also over/underflow: the checks below confirm).
        fine = rows_ok(arr, allow_zero)
        if fine:
            return
        if fine is None:
            sq = np.einsum("ij,ij->i", arr, arr)
            if np.isfinite(sq).all() and (allow_zero or sq.all()):
                return
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        value = arr[tuple(bad)]
        where = f"row {bad[0]}, column {bad[1]}" if arr.ndim == 2 else f"position {bad[0]}"
        raise InvalidMultivectorError(f"non-finite value {value} at {where}")
    if not allow_zero:
        if arr.ndim == 2:
            zero = ~arr.any(axis=1)
            if zero.any():
                raise InvalidMultivectorError(
                    f"row {int(np.argmax(zero))} is a zero vector (it has no direction)"
                )
        elif not arr.any():
            raise InvalidMultivectorError("zero vector (it has no direction)")


def _check_float32_range(source: np.ndarray, arr: np.ndarray) -> None:
    """Name a finite value of ``source`` that its float32 copy ``arr`` lost (overflowed to
    inf, or a non-zero row that underflowed to zero): Qdrant stores float32."""
    lost = np.isinf(arr) & np.isfinite(source)
    if lost.any():
        r, c = (int(v) for v in np.argwhere(lost)[0])
        raise InvalidMultivectorError(
            f"value {float(source[r, c])!r} at row {r}, column {c} is outside the float32 range "
            "(Qdrant stores float32; largest magnitude about 3.4e38)"
        )
    vanished = ~arr.any(axis=1) & source.any(axis=1)
    if vanished.any():
        r = int(np.argmax(vanished))
        raise InvalidMultivectorError(
            f"row {r} underflows to a zero vector in float32 (its largest magnitude is "
            f"{float(np.abs(source[r]).max())!r}; Qdrant stores float32)"
        )


def as_multivector(
    vectors: Any,
    *,
    dim: int | None = None,
    point_id: Any = None,
    vector_name: str | None = None,
    allow_zero: bool = False,
) -> np.ndarray:
    """Check one document's token vectors and return them as a float32 ``(n, d)`` array.

    Args:
        vectors: ``(n, d)`` numpy array, torch tensor or nested list of floats.
        dim: expected vector size ``d`` (the collection's), or ``None`` to accept any.
        point_id, vector_name: named in the error message.
        allow_zero: accept all-zero rows (pooling cannot normalise them).

    Raises:
        InvalidMultivectorError: not 2-D (a single dense vector, or 3-D), no rows or no
            columns, ragged rows, wrong ``d``, NaN/inf, or a zero row.
    """
    try:
        arr = to_numpy(vectors)
        if arr.ndim == 1:
            raise InvalidMultivectorError(
                f"expected a multivector (n, d), got a single vector of {arr.shape[0]} values"
                if arr.shape[0]
                else "empty multivector (no vectors)"
            )
        if arr.ndim != 2:
            raise InvalidMultivectorError(
                f"expected a multivector (n, d), got an array of shape {tuple(arr.shape)}"
            )
        if arr.shape[0] == 0:
            raise InvalidMultivectorError("empty multivector (no vectors)")
        if arr.shape[1] == 0:
            raise InvalidMultivectorError("vectors have no values (d = 0)")
        if dim is not None and arr.shape[1] != dim:
            raise InvalidMultivectorError(
                f"wrong dimension: vectors have {arr.shape[1]} values, the collection expects {dim}"
            )
        source: np.ndarray | None = arr
        if arr.dtype != np.float32:
            if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                raise InvalidMultivectorError(f"values must be real numbers, got dtype {arr.dtype}")
            with np.errstate(over="ignore", under="ignore"):
                arr = arr.astype(np.float32)
        try:
            _check_values(arr, allow_zero=allow_zero)
        except InvalidMultivectorError:
            if source is arr and not is_array(vectors):  # a nested list read into float32
                source = _nested_source(vectors, arr)
            if source is not None and source is not arr:
                _check_float32_range(source, arr)
            raise
        return arr
    except InvalidMultivectorError as exc:
        if point_id is None and vector_name is None:
            raise
        raise exc.at(point_id=point_id, vector_name=vector_name) from None


def as_vector(
    vector: Any,
    *,
    dim: int | None = None,
    point_id: Any = None,
    vector_name: str | None = None,
) -> np.ndarray:
    """Check one dense vector and return it as float32 ``(d,)``.

    Args:
        vector: ``(d,)`` list of numbers, numpy array or torch tensor.
        dim: expected size ``d`` (the collection's), or ``None`` to accept any.
        point_id, vector_name: named in the error message.

    Raises:
        InvalidVectorError: not 1-D, empty, wrong ``d``, not numbers, NaN/inf, or a value
            outside the float32 range (Qdrant stores float32).
    """
    try:
        if isinstance(vector, list):  # a flat list of numbers (the common case)
            try:
                with np.errstate(over="ignore", under="ignore"):
                    arr = np.asarray(vector, dtype=np.float32)
            except (ValueError, TypeError, OverflowError):
                arr = to_numpy(vector)  # names what is wrong (ragged rows, not numbers)
        else:
            arr = to_numpy(vector)
        if arr.ndim != 1:
            raise InvalidVectorError(f"expected a dense vector (d,), got shape {tuple(arr.shape)}")
        if arr.shape[0] == 0:
            raise InvalidVectorError("empty vector")
        if dim is not None and arr.shape[0] != dim:
            raise InvalidVectorError(
                f"wrong dimension: vector has {arr.shape[0]} values, the collection expects {dim}"
            )
        if arr.dtype != np.float32:
            if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                raise InvalidVectorError(f"values must be real numbers, got dtype {arr.dtype}")
            source = arr
            with np.errstate(over="ignore", under="ignore"):
                arr = arr.astype(np.float32)
        else:
            source = None
        finite = np.isfinite(arr)
        if not finite.all():
            k = int(np.argmin(finite))
            if source is None and isinstance(vector, list):
                source = np.asarray(vector, dtype=np.float64)
            if source is not None and np.isfinite(source[k]):
                raise InvalidVectorError(
                    f"value {float(source[k])!r} at position {k} is outside the float32 range "
                    "(Qdrant stores float32; largest magnitude about 3.4e38)"
                )
            raise InvalidVectorError(f"non-finite value {arr[k]} at position {k}")
        return arr
    except InvalidVectorError as exc:
        if point_id is None and vector_name is None:
            raise
        raise InvalidVectorError(exc.problem, point_id=point_id, vector_name=vector_name) from None
