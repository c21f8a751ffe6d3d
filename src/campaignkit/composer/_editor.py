"""The message editor: a textarea whose column chips insert at the caret (anywidget).

ipywidgets' Textarea does not tell the kernel where the caret is, so a column button could
only append. Here the browser inserts the placeholder at the caret itself (no round trip
that a click could overtake) and syncs the new text and caret; the kernel's `insert` does
the same from the synced caret (what a script or a test calls).
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

__all__ = ["MessageEditor"]

_ESM = """
function render({ model, el }) {
  el.classList.add("ck-editor");
  const area = document.createElement("textarea");
  area.className = "ck-editor-text";
  area.rows = 5;
  area.style.cssText = "width:100%;box-sizing:border-box;font:inherit;resize:vertical";
  area.placeholder = model.get("placeholder");
  area.setAttribute("aria-label", "Message");
  area.value = model.get("value");
  const chips = document.createElement("div");
  chips.className = "ck-chips";
  chips.style.cssText = "display:flex;flex-wrap:wrap;gap:4px;margin-top:4px";
  const caret = () => { model.set("caret", area.selectionStart); model.save_changes(); };
  area.addEventListener("input", () => {
    model.set("value", area.value); model.set("caret", area.selectionStart);
    model.save_changes();
  });
  for (const name of ["keyup", "click", "select"]) area.addEventListener(name, caret);
  const drawChips = () => {
    chips.replaceChildren();
    for (const [label, text] of model.get("chips")) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "ck-chip";
      chip.textContent = label;
      chip.title = text;
      chip.style.cssText = "border:1px solid #90caf9;background:#e3f2fd;border-radius:12px;" +
        "padding:1px 9px;cursor:pointer;font-size:.85em";
      chip.addEventListener("mousedown", (ev) => ev.preventDefault());  // keep the caret
      chip.addEventListener("click", () => {
        const at = area.selectionStart, end = area.selectionEnd;
        const before = area.value.slice(0, at);
        const after = area.value.slice(end);
        const gap = before && !/\\s$/.test(before) ? " " : "";
        const tail = /^[\\p{L}\\p{N}]/u.test(after) ? " " : "";
        area.value = before + gap + text + tail + after;
        const next = at + gap.length + text.length;
        area.focus();
        area.setSelectionRange(next, next);
        model.set("value", area.value); model.set("caret", next); model.save_changes();
      });
      chips.appendChild(chip);
    }
  };
  model.on("change:value", () => {
    if (area.value !== model.get("value")) {
      const at = model.get("caret");
      area.value = model.get("value");
      area.setSelectionRange(at, at);
    }
  });
  model.on("change:chips", drawChips);
  drawChips();
  el.append(area, chips);
}
export default { render };
"""


class MessageEditor(anywidget.AnyWidget):
    """A textarea (``value``, ``caret``) with column chips (``chips``: label, placeholder)."""

    _esm = _ESM
    value = traitlets.Unicode("").tag(sync=True)
    caret = traitlets.Int(0).tag(sync=True)
    chips = traitlets.List(traitlets.Tuple(traitlets.Unicode(), traitlets.Unicode())).tag(
        sync=True)
    placeholder = traitlets.Unicode("Hi {{ first_name }}, …").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"<MessageEditor {len(self.value)} characters, {len(self.chips)} columns>"
