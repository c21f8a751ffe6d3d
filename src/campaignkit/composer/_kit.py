"""What every panel uses: CSS classes on widgets, a panel box, an HTML line."""

from __future__ import annotations

from typing import Any, TypeVar

import ipywidgets as W

__all__ = ["FULL", "css", "html", "panel", "shown", "text"]

T = TypeVar("T", bound=W.DOMWidget)
#: a field that takes the panel's width and never clips (the 800 px layout)
FULL = {"width": "100%", "max_width": "100%"}
_STYLE = {"description_width": "initial"}


def css(widget: T, *names: str) -> T:
    """``widget`` with the CSS classes ``names`` (what the browser tests select)."""
    for name in names:
        widget.add_class(name)
    return widget


def html(*names: str, value: str = "") -> W.HTML:
    """An HTML widget with classes ``names``, as wide as its panel."""
    return css(W.HTML(value=value, layout=W.Layout(max_width="100%")), *names)


def text(description: str, name: str, **kwargs: Any) -> W.Text:
    """A Text field labelled ``description``, classes ``name``, full width."""
    return css(W.Text(description=description, style=_STYLE, layout=W.Layout(**FULL),
                      **kwargs), name)


def panel(name: str, title: str, children: list[W.Widget]) -> W.VBox:
    """The box of one panel: a heading, then its rows (class ``ck-panel ck-panel-<name>``)."""
    heading = W.HTML(f"<h3>{title}</h3>")
    return css(W.VBox([heading, *children], layout=W.Layout(min_width="0")),
               "ck-panel", f"ck-panel-{name}")


def shown(widget: W.DOMWidget, visible: bool) -> None:
    """Show or hide ``widget`` (without sending a change when nothing changes)."""
    display = None if visible else "none"
    if widget.layout.display != display:
        widget.layout.display = display
