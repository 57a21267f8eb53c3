"""The pieces the tables rest on: how a number is printed, and the Pareto front."""

from hypothesis import given
from hypothesis import strategies as st

from dlaforge.reports.metrics import pareto_front
from dlaforge.reports.style import number


@given(st.floats(min_value=1e-9, max_value=1e15) | st.floats(min_value=-1e15, max_value=-1e-9))
def test_a_printed_float_reads_back_to_four_significant_digits(value):
    text = number(value).replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    half_unit = 0.5 * 10.0 ** -decimals
    assert abs(float(text) - value) <= half_unit * (1 + 1e-9)
    assert half_unit <= 5e-4 * abs(value) * (1 + 1e-9)


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_a_printed_integer_is_exact(value):
    assert int(number(value).replace(",", "")) == value


points = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30)


@given(points)
def test_the_pareto_front_is_every_point_nothing_beats(pts):
    dominated = {i for i, p in enumerate(pts)
                 if any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in pts)}
    front = pareto_front(pts)
    assert sorted(front) == [i for i in range(len(pts)) if i not in dominated]
    assert [pts[i][0] for i in front] == sorted(pts[i][0] for i in front)
