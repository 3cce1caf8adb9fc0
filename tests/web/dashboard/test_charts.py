from app.web.dashboard import charts
from app.web.dashboard.charts import heat_style, sparkline_points


def test_heat_cells_darken_with_the_value_and_turn_their_text_white_to_stay_readable():
    assert heat_style(None, 10).startswith("background:hsl(0,0%,97%)")
    assert heat_style(0, 10) == "background:hsl(213,70%,96%);color:#111"
    assert heat_style(10, 10) == "background:hsl(213,70%,28%);color:#fff"
    assert heat_style(5, 0).startswith("background:hsl(0,0%,97%)")  # an empty grid


def test_sparklines_skip_gaps_and_need_two_points():
    assert sparkline_points([5]) == "" and sparkline_points([None, 3]) == ""
    points = sparkline_points([1, None, 3], width=100, height=28)
    assert points == "0.0,26.0 100.0,2.0"  # lowest at the bottom, highest at the top


def test_mix_bars_scale_to_the_largest_part_and_share_the_total():
    bars = charts.mix_bars([("champions", 30), ("loyal", 15), ("dormant", 0)], total=60)
    assert [b["length"] for b in bars] == [100.0, 50.0, 0.0]
    assert [b["share"] for b in bars] == [0.5, 0.25, 0.0]
    assert charts.mix_bars([], total=0) == []
