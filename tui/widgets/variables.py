"""Arguments and locals of the selected frame (only readable while halted)."""

from __future__ import annotations

from gotui.backends.model import Variable
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode


def variable_label(v: Variable) -> Text:
    text = Text()
    text.append(v.name or "?", style="bold")
    if v.type:
        text.append(f" {v.type}", style="dim italic")
    if v.unreadable:
        text.append(f" <unreadable: {v.unreadable}>", style="red")
    elif v.value:
        text.append(f" = {v.value}")
    return text


class VariablesView(Tree[Variable]):
    """Args and locals as an expandable tree; a hint while the target runs."""

    DEFAULT_CSS = "VariablesView { height: 1fr; }"

    def __init__(self, **kwargs: str) -> None:
        super().__init__("variables", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.hint = ""

    def show_hint(self, hint: str) -> None:
        if self.hint == hint:
            return  # rebuilding a Tree costs a relayout: skip when nothing changes
        self.hint = hint
        self.clear()
        self.root.add_leaf(Text(hint, style="italic dim"))

    def show_variables(self, args: list[Variable], local_vars: list[Variable]) -> None:
        self.hint = ""
        self.clear()
        for title, variables in (("args", args), ("locals", local_vars)):
            section = self.root.add(Text(title, style="bold underline"), expand=True)
            if not variables:
                section.add_leaf(Text("(none)", style="dim"))
            for v in variables:
                self._add(section, v)

    def _add(self, parent: TreeNode[Variable], v: Variable) -> None:
        if v.children:
            node = parent.add(variable_label(v), data=v)
            for child in v.children:
                self._add(node, child)
        else:
            parent.add_leaf(variable_label(v), data=v)
