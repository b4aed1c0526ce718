"""CloudWatch GetMetricData as AWS answers it: datapoints on period boundaries, and the metric
math dashboards use (moto 5.2.5 returns [] for most expressions).

Supported: numbers, query ids, `+ - * /` and parentheses (series with series pointwise on
shared timestamps, series with scalar), `SUM/AVG/MIN/MAX` of one series (a scalar) or of an
array `[m1, m2]` / `METRICS()` / `METRICS("prefix")` (a series, pointwise), and
`FILL(series, number|REPEAT|LINEAR)` over the query's periods.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

Series = dict[datetime, float]
Value = Series | float | list[Series]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|"
                    r"(\"[^\"]*\")|(.))")
_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum, "AVG": lambda v: sum(v) / len(v), "MIN": min, "MAX": max,
}


class MathError(ValueError):
    """An expression outside what is supported; the message names the part."""


def align(moment: datetime, period_s: int) -> datetime:
    """The period boundary at or before `moment` (AWS's datapoint timestamps)."""
    epoch = moment.timestamp()
    return moment - timedelta(seconds=epoch % period_s)


def evaluate(expression: str, series: dict[str, Series], periods: list[datetime],
             metrics: frozenset[str] | None = None) -> Series:
    """The expression's time series; a scalar result holds at every period. `metrics`: the
    MetricStat ids (what METRICS() names; other ids are earlier expressions)."""
    parser = _Parser(expression, series, periods, metrics)
    value = parser.expression()
    if parser.peek() is not None:
        raise MathError(f"unexpected {parser.peek()!r} in {expression!r}")
    if isinstance(value, list):
        raise MathError(f"{expression!r} is an array of series; reduce it with SUM/AVG/MIN/MAX")
    if isinstance(value, float):
        return dict.fromkeys(periods, value)
    return value


class _Parser:
    def __init__(self, text: str, series: dict[str, Series], periods: list[datetime],
                 metrics: frozenset[str] | None) -> None:
        self.tokens = [next(t for t in m.groups() if t is not None)
                       for m in _TOKEN.finditer(text) if any(m.groups())]
        self.tokens = [t for t in self.tokens if t.strip()]
        self.pos = 0
        self.series = series
        self.periods = periods
        self.metrics = frozenset(series) if metrics is None else metrics

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise MathError(f"expected {expected or 'more'} at token {self.pos + 1}, "
                            f"got {token!r}")
        self.pos += 1
        return token

    def expression(self) -> Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            value = _combine(value, self.term(), op)
        return value

    def term(self) -> Value:
        value = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()
            value = _combine(value, self.factor(), op)
        return value

    def factor(self) -> Value:
        token = self.take()
        if token == "-":
            return _combine(0.0, self.factor(), "-")
        if token == "(":
            value = self.expression()
            self.take(")")
            return value
        if token == "[":
            items: list[Series] = []
            while True:
                item = self.expression()
                if not isinstance(item, dict):
                    raise MathError("an array holds series only")
                items.append(item)
                if self.peek() == ",":
                    self.take(",")
                    continue
                self.take("]")
                return items
        if re.fullmatch(r"\d.*", token):
            return float(token)
        name = token.upper()
        if self.peek() == "(":
            return self.call(name)
        if token in self.series:
            return dict(self.series[token])
        raise MathError(f"unknown id or function {token!r}")

    def call(self, name: str) -> Value:
        self.take("(")
        if name == "METRICS":
            prefix = ""
            if self.peek() and self.peek().startswith('"'):
                prefix = self.take().strip('"')
            self.take(")")
            return [dict(s) for key, s in self.series.items()
                    if key in self.metrics and key.startswith(prefix)]
        argument = self.expression()
        if name == "FILL":
            self.take(",")
            how = self.take()
            self.take(")")
            if not isinstance(argument, dict):
                raise MathError("FILL takes one series")
            return _fill(argument, how, self.periods)
        self.take(")")
        reduce = _REDUCE.get(name)
        if reduce is None:
            raise MathError(f"function {name} is not supported by the local stack")
        if isinstance(argument, list):
            stamps = sorted({t for s in argument for t in s})
            return {t: reduce([s[t] for s in argument if t in s]) for t in stamps}
        if isinstance(argument, dict):
            return reduce(list(argument.values())) if argument else {}
        return argument


def _combine(left: Value, right: Value, op: str) -> Value:
    if isinstance(left, list) or isinstance(right, list):
        raise MathError("arithmetic on an array of series: reduce it first")

    def apply(a: float, b: float) -> float | None:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return None if b == 0 else a / b

    if isinstance(left, float) and isinstance(right, float):
        out = apply(left, right)
        return float("nan") if out is None else out
    if isinstance(left, float):
        left = dict.fromkeys(right, left)
    if isinstance(right, float):
        right = dict.fromkeys(left, right)
    found = {}
    for stamp in left.keys() & right.keys():
        value = apply(left[stamp], right[stamp])
        if value is not None:
            found[stamp] = value
    return found


def _fill(series: Series, how: str, periods: list[datetime]) -> Series:
    filled: Series = {}
    kind = how.upper()
    known = sorted(series)
    for stamp in periods:
        if stamp in series:
            filled[stamp] = series[stamp]
        elif kind == "REPEAT":
            earlier = [t for t in known if t < stamp]
            if earlier:
                filled[stamp] = series[earlier[-1]]
        elif kind == "LINEAR":
            before = [t for t in known if t < stamp]
            after = [t for t in known if t > stamp]
            if before and after:
                a, b = before[-1], after[0]
                share = (stamp - a) / (b - a)
                filled[stamp] = series[a] + (series[b] - series[a]) * share
        else:
            try:
                filled[stamp] = float(how)
            except ValueError:
                raise MathError(f"FILL with {how!r}: a number, REPEAT or LINEAR") from None
    return filled


def get_metric_data(original: Callable[..., list[dict[str, Any]]], queries: list[dict[str, Any]],
                    start_time: datetime, end_time: datetime,
                    scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
    """Moto's MetricStat answers on aligned periods, then the expressions over them."""
    series: dict[str, Series] = {}
    labels: dict[str, str] = {}
    periods_of: dict[str, int] = {}
    for query in queries:
        if "MetricStat" not in query:
            continue
        period = int(query["MetricStat"]["Period"])
        answer = original([dict(query, ReturnData=True)], align(start_time, period),
                          end_time, "TimestampAscending")[0]
        series[query["Id"]] = dict(zip(answer["timestamps"], answer["values"], strict=False))
        labels[query["Id"]] = answer["label"]
        periods_of[query["Id"]] = period
    results = []
    for query in queries:
        qid = query["Id"]
        if "MetricStat" in query:
            points = series[qid]
        elif "Expression" in query and not query["Expression"].lstrip().upper().startswith(
                "SELECT"):
            period = int(query.get("Period") or min(periods_of.values(), default=60))
            first = align(start_time, period)
            stamps = []
            while first < end_time:
                stamps.append(first)
                first += timedelta(seconds=period)
            points = evaluate(query["Expression"], series, stamps, frozenset(periods_of))
            series[qid] = points
            labels[qid] = query.get("Label") or qid
        else:
            answer = original([query], start_time, end_time, scan_by)
            results.extend(answer if query.get("ReturnData", True) else [])
            continue
        if not query.get("ReturnData", True):
            continue
        ordered = sorted(points, reverse=scan_by == "TimestampDescending")
        results.append({"id": qid, "label": query.get("Label") or labels[qid],
                        "values": [points[t] for t in ordered], "timestamps": ordered,
                        "status_code": "Complete"})
    return results
