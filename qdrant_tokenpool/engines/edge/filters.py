"""Filters between qdrant-client's models and Qdrant Edge's types: every condition, match,
range and geo shape (a boolean ``MatchValue`` made into one Edge matches)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import qdrant_edge as E
from qdrant_client import models

from .. import EdgeUnsupportedError
from .points import edge_id, parse_model

__all__ = ["edge_condition", "edge_filter", "geo_point", "has_id_excluded"]


def edge_filter(f: models.Filter | Mapping[str, Any] | None) -> E.Filter | None:
    """A filter (model or dict) as Edge's; a boolean ``MatchValue`` becomes one Edge
    matches (see :func:`_match_value`)."""
    f = parse_model(f, models.Filter)
    if f is None:
        return None
    if not isinstance(f, models.Filter):
        raise ValueError(f"expected a models.Filter, got {type(f).__name__}")  # noqa: TRY004 - ValueError, as qdrant-client
    min_should = None
    if f.min_should is not None:
        min_should = E.MinShould(
            [edge_condition(c) for c in f.min_should.conditions], f.min_should.min_count
        )
    return E.Filter(
        must=_conditions(f.must),
        should=_conditions(f.should),
        must_not=_conditions(f.must_not),
        min_should=min_should,
    )


def _conditions(cs: Any) -> list[Any] | None:
    if cs is None:
        return None
    return [edge_condition(c) for c in (cs if isinstance(cs, list) else [cs])]


def geo_point(p: models.GeoPoint) -> E.GeoPoint:
    return E.GeoPoint(lon=p.lon, lat=p.lat)


def edge_condition(c: Any) -> Any:
    if isinstance(c, models.Filter):
        return edge_filter(c)
    if isinstance(c, models.FieldCondition):
        return _field_condition(c)
    if isinstance(c, models.IsEmptyCondition):
        return E.IsEmptyCondition(c.is_empty.key)
    if isinstance(c, models.IsNullCondition):
        return E.IsNullCondition(c.is_null.key)
    if isinstance(c, models.HasIdCondition):
        return E.HasIdCondition({edge_id(i) for i in c.has_id})
    if isinstance(c, models.HasVectorCondition):
        return E.HasVectorCondition(c.has_vector)
    if isinstance(c, models.NestedCondition):
        return E.NestedCondition(c.nested.key, edge_filter(c.nested.filter) or E.Filter())
    if isinstance(c, models.SliceCondition):
        return E.SliceCondition(c.slice.total, c.slice.index)  # type: ignore[attr-defined]  # not in the binding's stub
    raise EdgeUnsupportedError(f"filter condition {type(c).__name__}")


def _match_value(value: Any) -> Any:
    """A ``MatchValue`` for Edge: qdrant-edge 0.9's binding reads a Python ``bool`` as an
    integer (so it would match no boolean payload), a ``numpy.bool_`` as a bool
    (docs/engines.md, "Engine bugs worth reporting upstream")."""
    if isinstance(value, (bool, np.bool_)):
        return E.MatchValue(np.bool_(value))  # type: ignore[arg-type]  # read as a bool
    return E.MatchValue(value)


def _match(m: Any) -> Any:
    if m is None:
        return None
    if isinstance(m, models.MatchValue):
        return _match_value(m.value)
    if isinstance(m, models.MatchText):
        return E.MatchText(m.text)
    if isinstance(m, models.MatchTextAny):
        return E.MatchTextAny(m.text_any)
    if isinstance(m, models.MatchPhrase):
        return E.MatchPhrase(m.phrase)
    if isinstance(m, models.MatchPrefix):
        return E.MatchPrefix(m.prefix)
    if isinstance(m, models.MatchSubstring):
        return E.MatchSubstring(m.substring)
    if isinstance(m, (models.MatchAny, models.MatchExcept)):
        values = list(m.any if isinstance(m, models.MatchAny) else m.except_)
        if any(isinstance(v, (bool, np.bool_)) for v in values):
            # only reachable through model_construct: the models (and a server) take strings
            # or integers here, and Edge's binding would read the booleans as 0/1
            raise ValueError(
                f"{type(m).__name__} takes strings or integers, got {values!r}: "
                "match a boolean with MatchValue"
            )
        cls = E.MatchAny if isinstance(m, models.MatchAny) else E.MatchExcept
        return cls(values)  # type: ignore[arg-type]
    raise EdgeUnsupportedError(f"match condition {type(m).__name__}")


def _range(r: Any) -> Any:
    if r is None:
        return None
    if isinstance(r, models.DatetimeRange):
        def iso(v: Any) -> str | None:
            if v is None:
                return None
            return v if isinstance(v, str) else v.isoformat()

        return E.RangeDateTime(gte=iso(r.gte), gt=iso(r.gt), lte=iso(r.lte), lt=iso(r.lt))
    return E.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt)


def _field_condition(c: models.FieldCondition) -> E.FieldCondition:
    bbox = radius = polygon = values_count = None
    if c.geo_bounding_box is not None:
        bbox = E.GeoBoundingBox(geo_point(c.geo_bounding_box.top_left), geo_point(c.geo_bounding_box.bottom_right))
    if c.geo_radius is not None:
        radius = E.GeoRadius(geo_point(c.geo_radius.center), c.geo_radius.radius)
    if c.geo_polygon is not None:
        polygon = E.GeoPolygon(
            [geo_point(p) for p in c.geo_polygon.exterior.points],
            [[geo_point(p) for p in ring.points] for ring in c.geo_polygon.interiors or []] or None,
        )
    if c.values_count is not None:
        v = c.values_count
        values_count = E.ValuesCount(lt=v.lt, gt=v.gt, lte=v.lte, gte=v.gte)
    return E.FieldCondition(
        key=c.key,
        match=_match(c.match),
        range=_range(c.range),
        geo_bounding_box=bbox,
        geo_radius=radius,
        geo_polygon=polygon,
        values_count=values_count,
        is_empty=c.is_empty,
        is_null=c.is_null,
    )


def has_id_excluded(f: models.Filter | None, ids: Sequence[Any]) -> models.Filter | None:
    """``f`` that also excludes ``ids`` (points used as query examples are not results,
    as in Qdrant)."""
    if not ids:
        return f
    cond = models.HasIdCondition(has_id=list(ids))
    if f is None:
        return models.Filter(must_not=[cond])
    return models.Filter(must=[f], must_not=[cond])
