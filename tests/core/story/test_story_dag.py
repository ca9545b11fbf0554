"""The pipeline graph in the story: layered layout, inline SVG in HTML, Mermaid in Markdown."""

from __future__ import annotations

import dataclasses
import re

from odibi_core.story import RunStory, render_html, render_markdown
from odibi_core.story.dag import BOX_W, dag_mermaid, dag_svg, layout


def test_layout_places_each_node_one_column_right_of_its_deepest_upstream(story: RunStory) -> None:
    boxes, edges = layout(story)
    level = {box.key: box.level for box in boxes}
    assert level == {"sales.orders_clean": 1, "sales.customers": 0, "sales.revenue": 2,
                     "sales.publish": 3, "bronze.raw_orders": 0}
    assert ("sales.revenue", "sales.publish") in edges
    # Boxes of one column never overlap; x grows with the level.
    spots = [(box.x, box.y) for box in boxes]
    assert len(set(spots)) == len(spots)
    by_key = {box.key: box for box in boxes}
    assert by_key["sales.revenue"].x - by_key["sales.orders_clean"].x > BOX_W
    outside = by_key["bronze.raw_orders"]
    assert outside.result is None and outside.label == "bronze.raw_orders" and outside.index is None
    assert by_key["sales.revenue"].label == "revenue" and by_key["sales.revenue"].index == 3


def test_svg_draws_every_node_edge_and_status(story: RunStory) -> None:
    svg = dag_svg(story)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="edge"') == len(story.edges) == 4
    for name in ("orders_clean", "customers", "revenue", "publish", "bronze.raw_orders"):
        assert f">{name}</text>" in svg
    assert 'class="dag-node failed"' in svg and 'class="dag-node skipped"' in svg
    assert 'href="#node-3"' in svg  # a box links to the node's details
    assert "stroke-dasharray" in svg  # the node of another pipeline is dashed


def test_story_without_edges_still_draws_its_nodes(story: RunStory) -> None:
    flat = dataclasses.replace(story, edges=())
    boxes, edges = layout(flat)
    assert edges == [] and {box.level for box in boxes} == {0}
    assert dag_svg(dataclasses.replace(story, nodes=(), edges=())) == ""


def test_html_has_the_graph_and_markdown_a_mermaid_chart(story: RunStory) -> None:
    page = render_html(story)
    assert "<h2>Graph</h2>" in page and page.index("<h2>Graph</h2>") < page.index("<h2>Nodes</h2>")
    md = render_markdown(story)
    mermaid = dag_mermaid(story)
    assert "```mermaid\n" + mermaid + "\n```" in md
    assert re.search(r'n\d+\["revenue<br/>failed"\]:::failed', mermaid)
    assert re.search(r"n\d+ --> n\d+", mermaid)
    assert "## Graph" not in render_markdown(dataclasses.replace(story, edges=()))


def test_names_are_escaped_in_the_picture(story: RunStory) -> None:
    evil = dataclasses.replace(story.nodes[0], node='<b>"x"')
    bad = dataclasses.replace(story, nodes=(evil,), edges=(("sales.<b>\"x\"", "sales.z"),))
    assert "<b>" not in dag_svg(bad) and "&lt;b&gt;" in dag_svg(bad)
    assert "<b>" not in dag_mermaid(bad) and '"x"' not in dag_mermaid(bad)
